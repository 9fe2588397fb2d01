import { eq, sql } from "drizzle-orm";
import type { AccountsDb } from "./db.ts";
import { loginFailures } from "./schema.ts";

/** Failed logins allowed per email within one window before logins for it are refused. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;

/** Seconds until the email may try again, or 0 when it may try now. */
export async function loginRetryAfter(db: AccountsDb, email: string, now = Date.now()): Promise<number> {
  const row = await db.select().from(loginFailures).where(eq(loginFailures.email, email)).get();
  if (!row || row.failures < LOGIN_MAX_FAILURES) return 0;
  const left = row.windowStart + LOGIN_WINDOW_MS - now;
  return left > 0 ? Math.ceil(left / 1000) : 0;
}

/** Counts one failure; a window that has run out starts again at 1. One statement, so concurrent failures all count. */
export async function recordLoginFailure(db: AccountsDb, email: string, now = Date.now()): Promise<void> {
  const expired = sql`${loginFailures.windowStart} + ${LOGIN_WINDOW_MS} <= ${now}`;
  await db
    .insert(loginFailures)
    .values({ email, failures: 1, windowStart: now })
    .onConflictDoUpdate({
      target: loginFailures.email,
      set: {
        failures: sql`CASE WHEN ${expired} THEN 1 ELSE ${loginFailures.failures} + 1 END`,
        windowStart: sql`CASE WHEN ${expired} THEN ${now} ELSE ${loginFailures.windowStart} END`,
      },
    });
}

export async function clearLoginFailures(db: AccountsDb, email: string): Promise<void> {
  await db.delete(loginFailures).where(eq(loginFailures.email, email));
}
