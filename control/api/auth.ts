import { Hono, type Context } from "hono";
import { z } from "zod";
import { changePassword, confirmPassword, deleteUserRows, listSessions, ownedClusters, revokeSession } from "../accounts/account.ts";
import { auditPage } from "../accounts/audit.ts";
import { clearLoginFailures, loginRetryAfter, recordLoginFailure } from "../accounts/rate-limit.ts";
import { listClusters } from "../accounts/clusters.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { logIn, revokeApiToken, signUp, type TokenOrigin } from "../accounts/users.ts";
import { ApiError, validationError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody, requireUser } from "../http/middleware.ts";
import { limitByAddress } from "../http/rate-limits.ts";
import { clientAddress } from "../http/security.ts";
import { quotaLimit } from "../quotas.ts";
import { clusterStub } from "./cluster-stub.ts";

const Email = z
  .email({ message: "must be a valid email address" })
  .max(254)
  .transform((e) => e.toLowerCase());

/** Signup asks for a password a person would not guess in a few thousand tries. */
const NewPassword = z
  .string({ message: "is required" })
  .min(10, { message: "must be at least 10 characters" })
  .max(256, { message: "must be at most 256 characters" })
  .refine((p) => new Set(p).size >= 4, { message: "is too weak: use more varied characters" });
const Password = z.string({ message: "is required" }).min(1).max(256);

/** The bodies of signup and login; the UI validates its forms with the same schemas. */
export const Signup = z.strictObject({ email: Email, password: NewPassword });
export const Login = z.strictObject({ email: Email, password: Password });
export const PasswordChange = z.strictObject({ currentPassword: Password, newPassword: NewPassword });
export const AccountDeletion = z.strictObject({ password: Password });

/** Where a token is being issued from: the request's address and client. */
export function tokenOrigin(c: Context, origin: TokenOrigin["origin"]): TokenOrigin {
  return { origin, address: clientAddress(c), userAgent: c.req.header("User-Agent") ?? "" };
}

/**
 * Logs in, within the limits that slow guessing: requests per address (the LOGIN_LIMITER
 * binding), then failures per (email, address) under a per-email ceiling (rate-limit.ts). The
 * API and the UI's login form both go through here.
 */
export async function logInLimited(env: Env, db: AccountsDb, email: string, password: string, from: TokenOrigin) {
  await limitByAddress(env, "login", from.address);
  const { retryAfter, slowed } = await loginRetryAfter(db, email, from.address);
  if (retryAfter > 0) {
    const why = slowed ? "this account is under a password-guessing attack, so each address gets one try" : "too many failed logins for this email from your address";
    throw new ApiError("rate_limited", `Login refused: ${why}; try again in ${retryAfter} s. Other addresses are not affected.`, [], {
      "Retry-After": String(retryAfter),
    });
  }
  const session = await logIn(db, email, password, from, quotaLimit(env, "apiTokens"));
  if (!session) {
    await recordLoginFailure(db, email, from.address);
    throw new ApiError("unauthenticated", "Invalid email or password.");
  }
  await clearLoginFailures(db, email, from.address);
  return session;
}

/** Signs up, within SIGNUP_LIMITER's requests per address. The API and the UI's signup form both go through here. */
export async function signUpLimited(env: Env, db: AccountsDb, email: string, password: string, from: TokenOrigin) {
  await limitByAddress(env, "signup", from.address);
  return signUp(db, email, password, from);
}

/**
 * Deletes the user's account after checking the password: first the Durable Object of every
 * cluster they own is wiped (a retried deletion wipes again harmlessly), then every D1 row of
 * theirs goes in one batch, so the account is either whole or gone.
 */
export async function deleteAccount(env: Env, db: AccountsDb, userId: string, password: string): Promise<void> {
  await confirmPassword(db, userId, password);
  const owned = await ownedClusters(db, userId);
  for (const id of owned) await clusterStub(env, id).destroy();
  await deleteUserRows(db, userId, owned);
}

/** Audit pages are at most this long (`?limit=`). */
export const AUDIT_PAGE_MAX = 200;
const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(50),
  /** The `next` of the previous page. */
  before: z.string().max(64).optional(),
});

/** Reads `?limit=&before=` of an audit page; a bad value is a 422 naming it. */
export function auditQuery(c: Context): z.output<typeof AuditQuery> {
  const parsed = AuditQuery.safeParse(c.req.query());
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

/** A 422 for a `before` cursor that is not one this API gave out. */
export const badCursor = (cursor: string) => validationError([{ path: "/before", errors: [`'${cursor.slice(0, 64)}' is not a cursor from a previous page's 'next'`] }]);

/** `/auth`: sign up, log in and out, who am I, sessions, password, account deletion. */
export const authRoutes = new Hono<AppEnv>()
  .post("/signup", jsonBody(Signup), async (c) => {
    const { email, password } = c.req.valid("json");
    const { user, token, cluster } = await signUpLimited(c.env, c.get("db"), email, password, tokenOrigin(c, "signup"));
    return c.json({ user, token, cluster }, 201);
  })
  .post("/login", jsonBody(Login), async (c) => {
    const { email, password } = c.req.valid("json");
    return c.json(await logInLimited(c.env, c.get("db"), email, password, tokenOrigin(c, "login")), 200);
  })
  .post("/logout", requireUser, async (c) => {
    await revokeApiToken(c.get("db"), c.get("tokenHash"));
    return c.body(null, 204);
  })
  .get("/me", requireUser, async (c) => {
    const user = c.get("user");
    return c.json({ user, clusters: await listClusters(c.get("db"), user.id) });
  })
  .get("/sessions", requireUser, async (c) => c.json({ sessions: await listSessions(c.get("db"), c.get("user").id, c.get("tokenHash")) }))
  .delete("/sessions/:sessionId", requireUser, async (c) => {
    await revokeSession(c.get("db"), c.get("user").id, c.req.param("sessionId"));
    return c.body(null, 204);
  })
  .post("/password", requireUser, jsonBody(PasswordChange), async (c) => {
    const { currentPassword, newPassword } = c.req.valid("json");
    await changePassword(c.get("db"), c.get("user").id, c.get("tokenHash"), currentPassword, newPassword);
    return c.body(null, 204);
  })
  .get("/audit", requireUser, async (c) => {
    const { limit, before } = auditQuery(c);
    const after = before === undefined ? undefined : Number(before);
    if (after !== undefined && !(Number.isInteger(after) && after > 0)) throw badCursor(before ?? "");
    const entries = await auditPage(c.get("db"), { userId: c.get("user").id, before: after }, limit);
    return c.json({ entries, next: entries.length === limit ? String(entries.at(-1)?.id) : null });
  })
  .delete("/account", requireUser, jsonBody(AccountDeletion), async (c) => {
    await deleteAccount(c.env, c.get("db"), c.get("user").id, c.req.valid("json").password);
    return c.body(null, 204);
  });
