import { asc, eq, lte, sql } from "drizzle-orm";
import type { ClusterDb } from "./db.ts";
import { timers } from "./schema.ts";

/**
 * One alarm drives every timer of the object: deadlines live in the `timers` table and the
 * alarm is armed for the earliest after every change. Handlers must be idempotent, since an
 * alarm may run again after a failure.
 */

/** Sets a timer to fire no later than `dueAt`: an earlier deadline already set is kept. */
export function scheduleNoLaterThan(db: ClusterDb, name: string, dueAt: number): void {
  db.insert(timers)
    .values({ name, dueAt })
    .onConflictDoUpdate({ target: timers.name, set: { dueAt: sql`MIN(${timers.dueAt}, ${dueAt})` } })
    .run();
}

/** Sets a timer to exactly `dueAt`. */
export function scheduleAt(db: ClusterDb, name: string, dueAt: number): void {
  db.insert(timers).values({ name, dueAt }).onConflictDoUpdate({ target: timers.name, set: { dueAt } }).run();
}

export function cancelTimer(db: ClusterDb, name: string): void {
  db.delete(timers).where(eq(timers.name, name)).run();
}

/** Removes and returns the names of the timers due at `now`. */
export function takeDue(db: ClusterDb, now: number): string[] {
  return db.delete(timers).where(lte(timers.dueAt, now)).returning({ name: timers.name }).all().map((r) => r.name);
}

/** Arms the object's alarm for the earliest timer, or clears it when none is left. */
export async function armAlarm(db: ClusterDb, storage: DurableObjectStorage): Promise<void> {
  const next = db.select().from(timers).orderBy(asc(timers.dueAt)).limit(1).get();
  if (!next) {
    await storage.deleteAlarm();
    return;
  }
  const current = await storage.getAlarm();
  if (current !== next.dueAt) await storage.setAlarm(next.dueAt);
}
