import { Hono } from "hono";
import { audit } from "../accounts/audit.ts";
import { resolveSecret } from "../accounts/cluster-secrets.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { clusters } from "../accounts/schema.ts";
import { CREDENTIAL_HEADER, JOIN_TOKEN_HEADER } from "../cluster/cluster.ts";
import { rejectUpgrade } from "../cluster/sessions.ts";
import { tokenKind } from "../crypto.ts";
import { ApiError, notFound } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { bearerToken } from "../http/middleware.ts";
import { eq } from "drizzle-orm";
import { clusterStub } from "./cluster-stub.ts";
import { agentDiagnostics } from "./diagnostics.ts";

/**
 * `/c/:cluster/agent/connect`: the agents' WebSocket. Authenticated by a join token (checked
 * here, in D1) or a per-agent credential (checked by the Cluster object, which holds them).
 * A refused credential still gets a socket, closed at once with 1008, so the agent knows not
 * to retry it.
 */
export const agentConnectRoutes = new Hono<AppEnv>().get("/connect", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("upgrade_required", "This endpoint takes a WebSocket upgrade from a DCX agent.");
  }
  const clusterId = c.req.param("cluster") ?? "";
  const token = bearerToken(c.req.header("Authorization"));
  const kind = token ? tokenKind(token) : undefined;
  if (!token || (kind !== "join" && kind !== "agent")) return rejectUpgrade("missing or unknown credential: use a join token or the agent's credential");
  const db = c.get("db");
  const cluster = await db.select({ id: clusters.id }).from(clusters).where(eq(clusters.id, clusterId)).get();
  if (!cluster) return rejectUpgrade("credential is not valid for this cluster");
  const headers = new Headers({ Upgrade: "websocket" });
  if (kind === "join") {
    const secret = await resolveSecret(db, "join", token, clusterId);
    if (!secret) return rejectUpgrade("join token is not valid: unknown, expired or revoked");
    headers.set(JOIN_TOKEN_HEADER, secret.id);
  } else {
    headers.set(CREDENTIAL_HEADER, token);
  }
  return clusterStub(c.env, clusterId).fetch(new Request("https://cluster/agent/connect", { headers }));
});

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
    await removeAgent(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.param("agentId"));
    return c.body(null, 204);
  });

/**
 * Removes an agent (audited): the Cluster object closes its socket, forgets its credential and
 * replaces its tasks. An unknown agent is a 404. The API and the UI's node page both come here.
 */
export async function removeAgent(env: Env, db: AccountsDb, clusterId: string, userId: string, agentId: string): Promise<void> {
  const removed = await clusterStub(env, clusterId).removeAgent(agentId);
  if (!removed) throw notFound(`Agent '${agentId}' does not exist.`);
  await audit(db, { clusterId, userId, action: "agent.remove", target: agentId });
}

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
    version: agent.version,
    registeredAt: iso(agent.registeredAt),
    reregisteredAt: iso(agent.reregisteredAt),
    disconnectedAt: iso(agent.disconnectedAt),
    unreachableAt: iso(agent.unreachableAt),
  };
}
