import type { AccountsDb } from "../accounts/db.ts";
import { resolveServiceAccount } from "../accounts/service-accounts.ts";

/**
 * Service-account secrets resolved to their account, cached in this isolate: a framework makes
 * a scheduler call per ACCEPT, DECLINE and ACKNOWLEDGE (thousands a minute when busy), and each
 * must not cost a D1 round trip. The revocation bound: a positive answer lives
 * ACCOUNT_TTL_MS, so a revoked account stops working everywhere within ACCOUNT_TTL_MS, and at
 * once in the isolate that revoked it (`forgetServiceAccount`). A negative answer lives
 * MISS_TTL_MS, so a new account works within that. User tokens are not cached here.
 */
export const ACCOUNT_TTL_MS = 5_000;
const MISS_TTL_MS = 1_000;
/** Entries at most; the oldest goes first (a flood of bad secrets cannot grow the isolate). */
const MAX_ENTRIES = 10_000;

type Account = Awaited<ReturnType<typeof resolveServiceAccount>>;

const cache = new Map<string, { account: Account; expires: number }>();

/** The live service account of `secret` on `clusterId`, or undefined (unknown, revoked, another cluster's). */
export async function cachedServiceAccount(db: AccountsDb, secret: string, clusterId: string, now = Date.now()): Promise<Account> {
  // The cluster is part of the key: a secret is only ever good on its own cluster.
  const key = `${clusterId}\n${secret}`;
  const hit = cache.get(key);
  if (hit && hit.expires > now) return hit.account;
  const account = await resolveServiceAccount(db, secret, clusterId);
  cache.delete(key);
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value ?? "");
  cache.set(key, { account, expires: now + (account ? ACCOUNT_TTL_MS : MISS_TTL_MS) });
  return account;
}

/** Drops a revoked account from this isolate's cache, so it stops working here at once. */
export function forgetServiceAccount(accountId: string): void {
  for (const [key, entry] of cache) if (entry.account?.id === accountId) cache.delete(key);
}
