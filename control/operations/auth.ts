import type { Context } from "hono";
import { confirmPassword, deleteUserRows, ownedClusters } from "../accounts/account.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { clearLoginFailures, loginRetryAfter, recordLoginFailure } from "../accounts/rate-limit.ts";
import { logIn, signUp, type TokenOrigin } from "../accounts/users.ts";
import { clusterStub } from "../cluster-stub.ts";
import { ApiError } from "../errors.ts";
import { limitByAddress } from "../http/rate-limits.ts";
import { clientAddress } from "../http/security.ts";
import { quotaLimit } from "../quotas.ts";

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
    const why = slowed
      ? "this account is under a password-guessing attack, so each address gets one try"
      : "too many failed logins for this email from your address";
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
