import { Hono } from "hono";
import { z } from "zod";
import { clearLoginFailures, loginRetryAfter, recordLoginFailure } from "../accounts/rate-limit.ts";
import { listClusters } from "../accounts/clusters.ts";
import type { AccountsDb } from "../accounts/db.ts";
import { logIn, revokeApiToken, signUp } from "../accounts/users.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody, requireUser } from "../http/middleware.ts";

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

/** The bodies of signup and login; the UI validates its forms with the same schemas. */
export const Signup = z.strictObject({ email: Email, password: NewPassword });
export const Login = z.strictObject({ email: Email, password: z.string().min(1).max(256) });

/**
 * Logs in, counting failures per email: after too many, 429 until they age out. The API and
 * the UI's login form both go through here.
 */
export async function logInLimited(db: AccountsDb, email: string, password: string) {
  const retryAfter = await loginRetryAfter(db, email);
  if (retryAfter > 0) {
    throw new ApiError("rate_limited", `Too many failed logins for this email; try again in ${retryAfter} s.`, [], {
      "Retry-After": String(retryAfter),
    });
  }
  const session = await logIn(db, email, password);
  if (!session) {
    await recordLoginFailure(db, email);
    throw new ApiError("unauthenticated", "Invalid email or password.");
  }
  await clearLoginFailures(db, email);
  return session;
}

/** `/auth`: sign up, log in and out, and who am I. */
export const authRoutes = new Hono<AppEnv>()
  .post("/signup", jsonBody(Signup), async (c) => {
    const { email, password } = c.req.valid("json");
    const { user, token, cluster } = await signUp(c.get("db"), email, password);
    return c.json({ user, token, cluster }, 201);
  })
  .post("/login", jsonBody(Login), async (c) => {
    const { email, password } = c.req.valid("json");
    return c.json(await logInLimited(c.get("db"), email, password), 200);
  })
  .post("/logout", requireUser, async (c) => {
    await revokeApiToken(c.get("db"), c.get("tokenHash"));
    return c.body(null, 204);
  })
  .get("/me", requireUser, async (c) => {
    const user = c.get("user");
    return c.json({ user, clusters: await listClusters(c.get("db"), user.id) });
  });
