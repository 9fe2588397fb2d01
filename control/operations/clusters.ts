import type { z } from "zod";
import { clusterRowDeletes } from "../accounts/account.ts";
import { auditRow } from "../accounts/audit.ts";
import { createSecret, revokeSecret, type SecretInfo } from "../accounts/cluster-secrets.ts";
import { forgetCachedCredentials } from "../accounts/agent-credentials.ts";
import { createCluster, forgetMemberships } from "../accounts/clusters.ts";
import type { AccountsDb } from "../accounts/db.ts";
import type { ClusterSummary } from "../accounts/users.ts";
import { forgetDnsKeys } from "./dns-keys-cache.ts";
import { clusterStub } from "../cluster-stub.ts";
import type { NewAgentToken, NewCluster, NewDnsKey } from "../contract/accounts.ts";
import { ApiError } from "../errors.ts";
import { quotaLimit } from "../quotas.ts";

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
