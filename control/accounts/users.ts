import { and, desc, eq, gt, notInArray } from "drizzle-orm";
import { hashPassword, hashToken, newId, newToken, verifyPassword } from "../crypto.ts";
import { ApiError } from "../errors.ts";
import { AuthCache, type Background } from "./auth-cache.ts";
import type { AccountsDb } from "./db.ts";
import { apiTokens, clusters, memberships, users } from "./schema.ts";

/** What a token resolves to: its user, the token's row id and when it expires. */
type TokenOwner = User & { tokenId: string; expiresAt: number };

/**
 * API tokens by hash, per isolate: a request costs no D1 read for its token. A token revoked
 * in this isolate stops at once (each revocation below forgets it); elsewhere within
 * TOKEN_CACHE_TTL_MS, but for one request answered in the TOKEN_CACHE_STALE_MS after it while
 * the token is read again (AuthCache): the revocation bound stated in the README. Every
 * credential cache (memberships, service accounts, agent credentials) uses these two.
 */
export const TOKEN_CACHE_TTL_MS = 5_000;
/** 30 s in all, the default token TTL of Nomad's and Consul's ACL caches. */
export const TOKEN_CACHE_STALE_MS = 25_000;
/** The options every credential cache is made with. */
export const CREDENTIAL_CACHE = {
  ttlMs: TOKEN_CACHE_TTL_MS,
  staleMs: TOKEN_CACHE_STALE_MS,
  missTtlMs: 1_000,
  maxEntries: 10_000,
  refreshDelayMs: 100,
} as const;
const tokenCache = new AuthCache<TokenOwner>(CREDENTIAL_CACHE);

/** Forgets the cached tokens of a user (after their tokens were revoked or trimmed). */
export function forgetUserTokens(userId: string): void {
  tokenCache.forgetWhere((_hash, owner) => owner?.id === userId);
}

/** API tokens issued at signup and login live this long (DC/OS: 5 days; CLIs here are used longer). */
export const API_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;

export interface User {
  id: string;
  email: string;
}

/** Where an API token was issued, shown in the list of sessions. */
export interface TokenOrigin {
  /** `signup`, `login` (the API, the CLI) or `ui` (a browser session). */
  origin: "signup" | "login" | "ui";
  address: string;
  userAgent: string;
}

export interface ClusterSummary {
  id: string;
  name: string;
  role: "owner" | "member";
  createdAt: string;
}

/**
 * Creates a user with a first cluster and an API token, all in one D1 batch (a transaction):
 * either the whole account exists afterwards, or none of it.
 */
export async function signUp(db: AccountsDb, email: string, password: string, from: TokenOrigin, clusterName = "default") {
  const existing = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
  if (existing) throw new ApiError("conflict", `An account with email '${email}' already exists.`);
  const user: User = { id: newId(), email };
  const cluster = { id: newId(), name: clusterName };
  const token = newToken("user");
  const tokenHash = await hashToken(token);
  try {
    await db.batch([
      db.insert(users).values({ ...user, passwordHash: await hashPassword(password) }),
      db.insert(clusters).values({ ...cluster, ownerId: user.id }),
      db.insert(memberships).values({ clusterId: cluster.id, userId: user.id, role: "owner" }),
      db.insert(apiTokens).values({ id: newId(), userId: user.id, tokenHash, expiresAt: Date.now() + API_TOKEN_TTL_MS, ...tokenFrom(from) }),
    ]);
  } catch (err) {
    // Two signups for one email racing: the unique index decides.
    if (String(err).includes("UNIQUE")) throw new ApiError("conflict", `An account with email '${email}' already exists.`);
    throw err;
  }
  return { user, token, cluster };
}

/** Checks a password and issues a new token (keeping at most `maxTokens`); `undefined` when the email or password is wrong. */
export async function logIn(db: AccountsDb, email: string, password: string, from: TokenOrigin, maxTokens: number) {
  const row = await db.select().from(users).where(eq(users.email, email)).get();
  // Verify against a dummy hash for unknown emails too, so timing does not reveal which emails exist.
  const ok = await verifyPassword(password, row?.passwordHash ?? DUMMY_HASH);
  if (!row || !ok) return undefined;
  const token = await issueApiToken(db, row.id, from, maxTokens);
  return { user: { id: row.id, email: row.email } satisfies User, token };
}

export const DUMMY_HASH = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/** The stored form of where a token came from, cut to a sane length (a User-Agent is the client's to choose). */
const tokenFrom = (from: TokenOrigin) => ({ origin: from.origin, address: from.address.slice(0, 64), userAgent: from.userAgent.slice(0, 200) });

/**
 * Issues a user API token. A user holds at most `maxTokens` (QUOTA_API_TOKENS): the oldest
 * beyond it are revoked in the same batch, as sessions elsewhere age out, so a login never
 * fails for the quota and the token table cannot grow without bound.
 */
export async function issueApiToken(db: AccountsDb, userId: string, from: TokenOrigin, maxTokens: number): Promise<string> {
  const token = newToken("user");
  const keep = db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(eq(apiTokens.userId, userId))
    .orderBy(desc(apiTokens.createdAt))
    .limit(Math.max(1, maxTokens));
  await db.batch([
    db.insert(apiTokens).values({ id: newId(), userId, tokenHash: await hashToken(token), expiresAt: Date.now() + API_TOKEN_TTL_MS, ...tokenFrom(from) }),
    db.delete(apiTokens).where(and(eq(apiTokens.userId, userId), notInArray(apiTokens.id, keep))),
  ]);
  forgetUserTokens(userId);
  return token;
}

/**
 * The user behind an API token, if the token exists and has not expired: from this isolate's
 * cache (tokenCache) when it was read within TOKEN_CACHE_TTL_MS, else from D1; `background`
 * (the request's waitUntil) lets a hit refresh the entry behind the answer (AuthCache).
 */
export async function userForToken(
  db: AccountsDb,
  token: string,
  background?: Background,
): Promise<(User & { tokenHash: string; tokenId: string }) | undefined> {
  const tokenHash = await hashToken(token);
  const load = () =>
    db
      .select({ id: users.id, email: users.email, tokenId: apiTokens.id, expiresAt: apiTokens.expiresAt })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(and(eq(apiTokens.tokenHash, tokenHash), gt(apiTokens.expiresAt, Date.now())))
      .get()
      .then((row) => row ?? null);
  const owner = await tokenCache.get(tokenHash, load, { expiresAt: (o) => o.expiresAt, background });
  return owner ? { id: owner.id, email: owner.email, tokenId: owner.tokenId, tokenHash } : undefined;
}

export async function revokeApiToken(db: AccountsDb, tokenHash: string): Promise<void> {
  await db.delete(apiTokens).where(eq(apiTokens.tokenHash, tokenHash));
  tokenCache.forget(tokenHash);
}
