import { resolveSecret } from "../accounts/cluster-secrets.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { isWellFormedToken } from "../crypto.ts";

/**
 * DNS keys resolved to their cluster, cached in this isolate: a DoH query must not cost a D1
 * round trip. Positive answers live KEY_TTL_MS, negative ones less, so a revoked key stops
 * working everywhere within KEY_TTL_MS, and at once in the isolate that revoked it.
 */
const KEY_TTL_MS = 5_000;
const MISS_TTL_MS = 1_000;
const MAX_ENTRIES = 10_000;

const cache = new Map<string, { clusterId: string | null; expires: number }>();

/** The cluster of a live DNS key, or null. */
export async function clusterForDnsKey(db: AccountsDb, key: string, now = Date.now()): Promise<string | null> {
  // A key of the wrong shape is refused before the cache or D1: it can neither fill the cache nor cost a read.
  if (!isWellFormedToken(key, "dns")) return null;
  const hit = cache.get(key);
  if (hit && hit.expires > now) return hit.clusterId;
  const secret = await resolveSecret(db, "dns", key);
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value ?? "");
  cache.set(key, { clusterId: secret?.clusterId ?? null, expires: now + (secret ? KEY_TTL_MS : MISS_TTL_MS) });
  return secret?.clusterId ?? null;
}

/** Drops every cached key of a cluster (after a revocation in this isolate). */
export function forgetDnsKeys(clusterId: string): void {
  for (const [key, entry] of cache) if (entry.clusterId === clusterId) cache.delete(key);
}
