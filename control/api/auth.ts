import { Hono, type Context } from "hono";
import { z } from "zod";
import { changePassword, listSessions, revokeSession } from "../accounts/account.ts";
import { auditPage } from "../accounts/audit.ts";
import { listClusters } from "../accounts/clusters.ts";
import { revokeApiToken } from "../accounts/users.ts";
import { AccountDeletion, Login, PasswordChange, Signup } from "../contract/accounts.ts";
import { validationError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody, requireUser } from "../http/middleware.ts";
import { deleteAccount, logInLimited, signUpLimited, tokenOrigin } from "../operations/auth.ts";

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
export const badCursor = (cursor: string) =>
  validationError([{ path: "/before", errors: [`'${cursor.slice(0, 64)}' is not a cursor from a previous page's 'next'`] }]);

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
