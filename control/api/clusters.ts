import { Hono } from "hono";
import { z } from "zod";
import { forgetCachedCredentials } from "../accounts/agent-credentials.ts";
import { createSecret, listSecrets, revokeSecret, type SecretInfo } from "../accounts/cluster-secrets.ts";
import { createCluster, forgetMemberships, listClusters } from "../accounts/clusters.ts";
import type { AccountsDb } from "../accounts/db.ts";
import type { ClusterSummary } from "../accounts/users.ts";
import { quotaLimit } from "../quotas.ts";
import { clusterRowDeletes } from "../accounts/account.ts";
import { auditRow } from "../accounts/audit.ts";
import { clusterAuditPage, parseCursor } from "./audit.ts";
import { ApiError } from "../errors.ts";
import { auditQuery, badCursor } from "./auth.ts";
import { clusterStub } from "./cluster-stub.ts";
import { forgetDnsKeys } from "./dns-keys-cache.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody, requireMember, requireUser } from "../http/middleware.ts";

const ClusterName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, { message: "must be lowercase letters, digits and '-', not starting or ending with '-'" });

/** What a cluster is created with; the UI's Clusters page checks its form with the same schema. */
export const NewCluster = z.strictObject({ name: ClusterName });
/** What an agent join token or DNS key may be created with; the UI's forms are checked with the same schemas. */
export const NewAgentToken = z.strictObject({
  description: z.string().max(256).optional(),
  expiresInSeconds: z.number().int().min(60).max(366 * 24 * 3600).optional(),
});
export const NewDnsKey = z.strictObject({ description: z.string().max(256).optional() });

/** `/clusters`: the user's clusters, their agent join tokens and DNS keys. */
export const clusterRoutes = new Hono<AppEnv>()
  .use(requireUser)
  .get("/", async (c) => c.json({ clusters: await listClusters(c.get("db"), c.get("user").id) }))
  .post("/", jsonBody(NewCluster), async (c) => c.json({ cluster: await createClusterFor(c.env, c.get("db"), c.get("user").id, c.req.valid("json")) }, 201))
  .get("/:id", requireMember, (c) => c.json({ cluster: c.get("cluster") }))
  .delete("/:id", requireMember, async (c) => {
    await deleteClusterFor(c.env, c.get("db"), c.get("cluster"), c.get("user").id);
    return c.body(null, 204);
  })
  .get("/:id/audit", requireMember, async (c) => {
    const { limit, before } = auditQuery(c);
    const after = before === undefined ? undefined : parseCursor(before);
    if (before !== undefined && !after) throw badCursor(before);
    return c.json(await clusterAuditPage(c.env, c.get("db"), c.get("cluster").id, limit, after));
  })
  .post("/:id/agent-tokens", requireMember, jsonBody(NewAgentToken), async (c) => {
    const created = await createAgentToken(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.valid("json"));
    return c.json({ ...created.info, token: created.secret }, 201);
  })
  .get("/:id/agent-tokens", requireMember, async (c) =>
    c.json({ tokens: await listSecrets(c.get("db"), c.get("cluster").id, "join") }),
  )
  .delete("/:id/agent-tokens/:tokenId", requireMember, async (c) => {
    const info = await revokeAgentToken(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.param("tokenId"));
    return c.json({ token: info });
  })
  .post("/:id/dns-keys", requireMember, jsonBody(NewDnsKey), async (c) => {
    const created = await createDnsKey(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.valid("json"));
    return c.json({ ...created.info, key: created.secret, url: dohUrl(c.req.url, created.secret) }, 201);
  })
  .get("/:id/dns-keys", requireMember, async (c) => c.json({ keys: await listSecrets(c.get("db"), c.get("cluster").id, "dns") }))
  .delete("/:id/dns-keys/:keyId", requireMember, async (c) => {
    const info = await revokeDnsKey(c.get("db"), c.get("cluster").id, c.get("user").id, c.req.param("keyId"));
    return c.json({ key: info });
  });

/** Creates a cluster owned by the user (audited), within QUOTA_CLUSTERS. The API and the UI's Clusters page both come here. */
export async function createClusterFor(env: Env, db: AccountsDb, userId: string, input: z.output<typeof NewCluster>): Promise<ClusterSummary> {
  return createCluster(db, userId, input.name, quotaLimit(env, "clusters"));
}

/**
 * Deletes a cluster, by its owner only: its Durable Object is wiped first (a retry wipes again
 * harmlessly), then its D1 rows and the audit row of the deletion go in one batch.
 */
export async function deleteClusterFor(env: Env, db: AccountsDb, cluster: ClusterSummary, userId: string): Promise<void> {
  if (cluster.role !== "owner") throw new ApiError("forbidden", `Only the owner of cluster '${cluster.id}' may delete it.`);
  await clusterStub(env, cluster.id).destroy();
  const [first, ...rest] = clusterRowDeletes(db, [cluster.id]);
  if (!first) return;
  await db.batch([first, ...rest, auditRow(db, { userId, action: "cluster.delete", target: cluster.id, detail: { name: cluster.name } })]);
  forgetMemberships({ clusterIds: [cluster.id] });
  forgetCachedCredentials([cluster.id]);
}

/** Creates an agent join token (audited), within QUOTA_AGENT_TOKENS. The API and the UI's Tokens page both come here. */
export async function createAgentToken(env: Env, db: AccountsDb, clusterId: string, userId: string, input: z.output<typeof NewAgentToken>) {
  return createSecret(db, { ...input, clusterId, kind: "join", createdBy: userId }, quotaLimit(env, "agentTokens"));
}

/** Revokes a join token (audited); sessions admitted with it but not registered yet are closed too. */
export async function revokeAgentToken(env: Env, db: AccountsDb, clusterId: string, userId: string, tokenId: string): Promise<SecretInfo> {
  const info = await revokeSecret(db, clusterId, "join", tokenId, userId);
  await clusterStub(env, clusterId).joinTokenRevoked(info.id);
  return info;
}

/** Creates a DNS key (audited), within QUOTA_DNS_KEYS. */
export async function createDnsKey(env: Env, db: AccountsDb, clusterId: string, userId: string, input: z.output<typeof NewDnsKey>) {
  return createSecret(db, { ...input, clusterId, kind: "dns", createdBy: userId }, quotaLimit(env, "dnsKeys"));
}

/** Revokes a DNS key (audited); this isolate's key cache forgets the cluster's keys at once. */
export async function revokeDnsKey(db: AccountsDb, clusterId: string, userId: string, keyId: string): Promise<SecretInfo> {
  const info = await revokeSecret(db, clusterId, "dns", keyId, userId);
  forgetDnsKeys(clusterId);
  return info;
}

/** The DoH URL of a DNS key, on the host the request came to. */
export const dohUrl = (requestUrl: string, key: string) => new URL(`/dns/${key}/dns-query`, requestUrl).toString();
