import { and, eq, lt, sql } from "drizzle-orm";
import type { AccountsDb } from "./db.ts";
import { loginFailures } from "./schema.ts";

/**
 * Password guessing, slowed per account without handing a stranger a way to lock the owner out.
 *
 * A lock per email (N failures, then nobody may log in) is a denial of service anyone can
 * trigger by typing the owner's email N times. So failures are counted per (email, client
 * address): an address that fails LOGIN_MAX_FAILURES times is refused for that email until its
 * window ends, and the owner, at another address, is not affected. A guesser with many
 * addresses is bounded by a per-email ceiling over all of them: past LOGIN_ACCOUNT_CEILING
 * failures in a window, every address gets only LOGIN_SLOWED_FAILURES failure for that email
 * (instead of LOGIN_MAX_FAILURES) until the window ends. That slows the guesser five-fold and
 * still lets the owner in with the right password from any address that has not failed. The
 * per-address request limit (the `LOGIN_LIMITER` binding) bounds every address on top.
 */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_ACCOUNT_CEILING = 100;
export const LOGIN_SLOWED_FAILURES = 1;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** The `source` of the per-email row that counts failures from every address. */
const EVERY_ADDRESS = "*";

type Row = typeof loginFailures.$inferSelect;

const live = (row: Row | undefined, now: number) => (row && row.windowStart + LOGIN_WINDOW_MS > now ? row : undefined);

/**
 * Seconds until this address may try this email again, or 0 when it may try now, and whether
 * the email is past its ceiling (its addresses are slowed).
 */
export async function loginRetryAfter(db: AccountsDb, email: string, address: string, now = Date.now()): Promise<{ retryAfter: number; slowed: boolean }> {
  const rows = await db
    .select()
    .from(loginFailures)
    .where(and(eq(loginFailures.email, email), sql`${loginFailures.source} IN (${address}, ${EVERY_ADDRESS})`))
    .all();
  const mine = live(
    rows.find((r) => r.source === address),
    now,
  );
  const all = live(
    rows.find((r) => r.source === EVERY_ADDRESS),
    now,
  );
  const slowed = (all?.failures ?? 0) >= LOGIN_ACCOUNT_CEILING;
  const allowed = slowed ? LOGIN_SLOWED_FAILURES : LOGIN_MAX_FAILURES;
  if (!mine || mine.failures < allowed) return { retryAfter: 0, slowed };
  return { retryAfter: Math.ceil((mine.windowStart + LOGIN_WINDOW_MS - now) / 1000), slowed };
}

/**
 * Counts one failure for the address and for the email, in one batch; a window that has run
 * out starts again at 1. Each is one upsert statement, so concurrent failures all count.
 */
export async function recordLoginFailure(db: AccountsDb, email: string, address: string, now = Date.now()): Promise<void> {
  const expired = sql`${loginFailures.windowStart} + ${LOGIN_WINDOW_MS} <= ${now}`;
  const upsert = (source: string) =>
    db
      .insert(loginFailures)
      .values({ email, source, failures: 1, windowStart: now })
      .onConflictDoUpdate({
        target: [loginFailures.email, loginFailures.source],
        set: {
          failures: sql`CASE WHEN ${expired} THEN 1 ELSE ${loginFailures.failures} + 1 END`,
          windowStart: sql`CASE WHEN ${expired} THEN ${now} ELSE ${loginFailures.windowStart} END`,
        },
      });
  await db.batch([upsert(address), upsert(EVERY_ADDRESS)]);
}

/** A successful login clears its own address's failures only: the guesser's count elsewhere stands. */
export async function clearLoginFailures(db: AccountsDb, email: string, address: string): Promise<void> {
  await db.delete(loginFailures).where(and(eq(loginFailures.email, email), eq(loginFailures.source, address)));
}

/** Drops windows that have run out (from the purge). */
export function purgeLoginFailures(db: AccountsDb, now = Date.now()) {
  return db.delete(loginFailures).where(lt(loginFailures.windowStart, now - LOGIN_WINDOW_MS));
}
