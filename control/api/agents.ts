import { Hono } from "hono";
import { eq } from "drizzle-orm";
import { agentCredentialsExported, clusterAgentOfCredential } from "../accounts/agent-credentials.ts";
import { resolveSecret } from "../accounts/cluster-secrets.ts";
import { clusters } from "../accounts/schema.ts";
import { rejectUpgrade } from "../cluster/sessions.ts";
import { isWellFormedToken, tokenKind } from "../crypto.ts";
import { ApiError, notFound } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { bearerToken } from "../http/middleware.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { clusterStub } from "../cluster-stub.ts";
import { gatewayRoute } from "../gateway/route.ts";
import { CREDENTIAL_HEADER, GATEWAY_COUNT_HEADER, JOIN_TOKEN_HEADER } from "../gateway/wire.ts";
import { removeAgent } from "../operations/agents.ts";
import { agentDiagnostics } from "./diagnostics.ts";

/**
 * `/c/:cluster/agent/connect`: the agents' WebSocket. Authenticated by a join token or a
 * per-agent credential, each checked for shape and then in D1 here, so a wrong one never wakes
 * an object; the upgrade then goes to the agent's gateway (control/gateway/), chosen by its id,
 * and the Cluster object checks a credential again against its own registry. A refused
 * credential still gets a socket, closed at once with 1008, so the agent knows not to retry it.
 */
export const agentConnectRoutes = new Hono<AppEnv>().get("/connect", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("upgrade_required", "This endpoint takes a WebSocket upgrade from a DCX agent.");
  }
  const clusterId = c.req.param("cluster") ?? "";
  const token = bearerToken(c.req.header("Authorization"));
  const kind = token && isWellFormedToken(token) ? tokenKind(token) : undefined;
  if (!token || (kind !== "join" && kind !== "agent")) return rejectUpgrade("missing or malformed credential: use a join token or the agent's credential");
  const db = c.get("db");
  const headers = new Headers({ Upgrade: "websocket" });
  // A join session has no identity yet: the upgrade's random key spreads joins over the gateways.
  let routeKey = c.req.header("Sec-WebSocket-Key") ?? crypto.randomUUID();
  if (kind === "join") {
    const secret = await resolveSecret(db, "join", token, clusterId);
    if (!secret) return rejectUpgrade("join token is not valid: unknown, expired or revoked");
    headers.set(JOIN_TOKEN_HEADER, secret.id);
  } else {
    const agentId = await knownAgentCredential(c.env, db, clusterId, token);
    if (agentId === undefined) return rejectUpgrade("agent credential is not valid for this cluster: the agent may have been removed");
    headers.set(CREDENTIAL_HEADER, token);
    routeKey = agentId;
  }
  const gateway = await gatewayRoute(c.env, clusterId, routeKey);
  // The gateway admits its share of the cluster's registration rate (control/gateway/admission.ts).
  headers.set(GATEWAY_COUNT_HEADER, String(gateway.gateways));
  return gateway.stub.fetch(new Request("https://gateway/agent/connect", { headers }));
});

/**
 * The agent a credential belongs to, as D1 knows it, or undefined; for a cluster whose object
 * has not yet copied its credentials into D1 (agents that joined before D1 kept them), the
 * object is asked instead, which copies them as it starts, so this happens at most once per
 * such cluster (the credential itself then stands for the agent in routing).
 */
async function knownAgentCredential(env: Env, db: AccountsDb, clusterId: string, token: string): Promise<string | undefined> {
  const agentId = await clusterAgentOfCredential(db, clusterId, token);
  if (agentId !== null) return agentId;
  if (await agentCredentialsExported(db, clusterId)) return undefined;
  const cluster = await db.select({ id: clusters.id }).from(clusters).where(eq(clusters.id, clusterId)).get();
  return cluster !== undefined && (await clusterStub(env, clusterId).isAgentCredential(token)) ? token : undefined;
}

/** `/c/:cluster/agents`: the registry as DCX shows it, and removal of an agent. */
export const agentRoutes = new Hono<AppEnv>()
  .get("/", async (c) => c.json({ agents: (await clusterStub(c.env, c.get("cluster").id).agents()).map(agentView) }))
  .get("/:agentId", async (c) => {
    const agent = await clusterStub(c.env, c.get("cluster").id).agent(c.req.param("agentId"));
    if (!agent) throw notFound(`Agent '${c.req.param("agentId")}' does not exist.`);
    return c.json({ agent: agentView(agent) });
  })
  .get("/:agentId/diagnostics", agentDiagnostics)
  .delete("/:agentId", async (c) => {
    await removeAgent(c.env, c.get("db"), c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") }, c.req.param("agentId"));
    return c.body(null, 204);
  });

type AgentRecord = Awaited<ReturnType<ReturnType<typeof clusterStub>["agents"]>>[number];

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function agentView(agent: AgentRecord) {
  return {
    id: agent.id,
    hostname: agent.hostname,
    ip: agent.ip,
    state: agent.state,
    resources: agent.resources,
    attributes: agent.attributes,
    /** `slave_public` (a public agent) or `*` (private). */
    role: agent.role,
    public: agent.role !== "*",
    version: agent.version,
    registeredAt: iso(agent.registeredAt),
    reregisteredAt: iso(agent.reregisteredAt),
    disconnectedAt: iso(agent.disconnectedAt),
    unreachableAt: iso(agent.unreachableAt),
  };
}
