import { AuthCache } from "../accounts/auth-cache.ts";
import { resolveSecret } from "../accounts/cluster-secrets.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { isWellFormedToken } from "../crypto.ts";

/**
 * DNS keys resolved to their cluster, cached in this isolate: a DoH query must not cost a D1
 * round trip. Positive answers live KEY_TTL_MS, negative ones less, so a revoked key stops
 * working everywhere within KEY_TTL_MS, and at once in the isolate that revoked it. No stale
 * answer: the DoH routes give this cache no background to refresh through.
 */
const KEY_TTL_MS = 5_000;
const cache = new AuthCache<string>({ ttlMs: KEY_TTL_MS, staleMs: 0, missTtlMs: 1_000, maxEntries: 10_000 });

/** The cluster of a live DNS key, or null. */
export async function clusterForDnsKey(db: AccountsDb, key: string): Promise<string | null> {
  // A key of the wrong shape is refused before the cache or D1: it can neither fill the cache nor cost a read.
  if (!isWellFormedToken(key, "dns")) return null;
  return cache.get(key, async () => (await resolveSecret(db, "dns", key))?.clusterId ?? null);
}

/** Drops every cached key of a cluster (after a revocation in this isolate). */
export function forgetDnsKeys(clusterId: string): void {
  cache.forgetWhere((_key, cachedCluster) => cachedCluster === clusterId);
}
