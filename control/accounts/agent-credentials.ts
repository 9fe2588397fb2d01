import { and, eq } from "drizzle-orm";
import { hashToken, isWellFormedToken } from "../crypto.ts";
import { AuthCache, type Background } from "./auth-cache.ts";
import type { AccountsDb } from "./db.ts";
import { agentCredentials } from "./schema.ts";
import { CREDENTIAL_CACHE } from "./users.ts";

/**
 * Agent credentials as D1 knows them (their hashes), so the Worker refuses a wrong one without
 * waking the cluster's Durable Object. The object writes a credential here before it hands it
 * to the agent, and its own registry stays the authority on connect; removing an agent or a
 * cluster drops its rows.
 */

/** Records a new agent's credential hash. Called by the Cluster object before `registered` goes out. */
export async function recordAgentCredential(d1: D1Database, entry: { clusterId: string; agentId: string; credentialHash: string }): Promise<void> {
  await d1
    .prepare("INSERT OR REPLACE INTO agent_credentials (credential_hash, cluster_id, agent_id) VALUES (?1, ?2, ?3)")
    .bind(entry.credentialHash, entry.clusterId, entry.agentId)
    .run();
}

/**
 * A row marking that a cluster's object has copied every credential it holds into this table.
 * Clusters whose agents joined before credentials were kept in D1 have none until their object
 * next runs: until then a credential D1 does not know is asked of the object (once it has
 * run, the mark is there and a miss is refused at the edge).
 */
const EXPORTED_AGENT = "*exported*";

/**
 * Copies an object's agent credentials into D1 and marks the cluster as copied, in one batch.
 * The Cluster object calls this once, the first time it runs with this table in place.
 */
export async function exportAgentCredentials(d1: D1Database, clusterId: string, entries: { agentId: string; credentialHash: string }[]): Promise<void> {
  const insert = d1.prepare("INSERT OR REPLACE INTO agent_credentials (credential_hash, cluster_id, agent_id) VALUES (?1, ?2, ?3)");
  const rows = [...entries, { agentId: EXPORTED_AGENT, credentialHash: `${EXPORTED_AGENT}:${clusterId}` }];
  await d1.batch(rows.map((e) => insert.bind(e.credentialHash, clusterId, e.agentId)));
}

/** Whether the cluster's object has copied its credentials here (see EXPORTED_AGENT). */
export async function agentCredentialsExported(db: AccountsDb, clusterId: string): Promise<boolean> {
  const row = await db
    .select({ agentId: agentCredentials.agentId })
    .from(agentCredentials)
    .where(and(eq(agentCredentials.clusterId, clusterId), eq(agentCredentials.agentId, EXPORTED_AGENT)))
    .get();
  return row !== undefined;
}

/** The agent of `clusterId` whose credential `token` is, or null: shape first, then one indexed read. */
export async function clusterAgentOfCredential(db: AccountsDb, clusterId: string, token: string): Promise<string | null> {
  if (!isWellFormedToken(token, "agent")) return null;
  return agentOfCredential(db, clusterId, await hashToken(token));
}

async function agentOfCredential(db: AccountsDb, clusterId: string, credentialHash: string): Promise<string | null> {
  const row = await db
    .select({ agentId: agentCredentials.agentId })
    .from(agentCredentials)
    .where(and(eq(agentCredentials.credentialHash, credentialHash), eq(agentCredentials.clusterId, clusterId)))
    .get();
  return row?.agentId ?? null;
}

/**
 * Agent credentials checked by the DoH endpoint, per isolate, keyed `clusterId hash`: each
 * query of an agent's DNS forwarder would otherwise cost a D1 read (a trip to D1's primary).
 * Same bound as API tokens; removing an agent or a cluster through this isolate forgets at once.
 * Connecting an agent's socket does not use it: that check stays exact.
 */
const credentialCache = new AuthCache<string>(CREDENTIAL_CACHE);

/** Whether `token` is an agent credential of `clusterId` (`clusterAgentOfCredential`), through this isolate's cache (see credentialCache). */
export async function isCachedClusterAgentCredential(db: AccountsDb, clusterId: string, token: string, background?: Background): Promise<boolean> {
  if (!isWellFormedToken(token, "agent")) return false;
  const credentialHash = await hashToken(token);
  return (await credentialCache.get(`${clusterId} ${credentialHash}`, () => agentOfCredential(db, clusterId, credentialHash), { background })) !== null;
}

/** Forgets cached credentials of one agent of a cluster, or of every agent of the clusters given. */
export function forgetCachedCredentials(clusterIds: readonly string[], agentId?: string): void {
  const clusters = new Set(clusterIds);
  credentialCache.forgetWhere((key, cachedAgent) => clusters.has(key.split(" ")[0] ?? "") && (agentId === undefined || cachedAgent === agentId));
}

/** The statement that forgets an agent's credentials (after the object removed the agent). */
export function forgetAgentCredentials(db: AccountsDb, clusterId: string, agentId: string) {
  return db.delete(agentCredentials).where(and(eq(agentCredentials.clusterId, clusterId), eq(agentCredentials.agentId, agentId)));
}
