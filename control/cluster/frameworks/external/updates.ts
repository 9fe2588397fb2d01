import { and, asc, eq, isNotNull, sql } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { frameworkUpdates } from "../../schema.ts";
import { newUuid, type TaskStatusJson } from "./status.ts";

/**
 * Status updates to external frameworks, at least once (the `framework_updates` table): each
 * is stored with its uuid in the transaction that changed the task, sent when the framework is
 * subscribed, and sent again with backoff until the framework ACKNOWLEDGEs it. As Mesos's
 * status update manager, the updates of one task go out in order, one at a time: the next is
 * sent once the one before it is acknowledged. Rows live in storage, so neither a reconnect
 * of the framework nor a restart of the object loses one.
 */

/** The first resend comes after 10 s, then twice as late each time, at most every 10 min (Mesos's agent). */
export const RETRY_BASE_MS = 10_000;
const RETRY_MAX_MS = 600_000;

/** Stores an update for the framework; it is due now unless an earlier update of its task awaits its ack. One statement: a round may owe thousands. */
export function oweUpdate(db: ClusterDb, frameworkId: string, status: Omit<TaskStatusJson, "uuid">, now: number): void {
  const taskId = status.task_id.value;
  const uuid = newUuid();
  db.$client.sql.exec(
    `INSERT INTO framework_updates (uuid, framework_id, task_id, status, attempts, next_at)
     VALUES (?, ?, ?, ?, 0, CASE WHEN EXISTS (SELECT 1 FROM framework_updates WHERE framework_id = ? AND task_id = ?) THEN NULL ELSE ? END)`,
    uuid, frameworkId, taskId, JSON.stringify({ ...status, uuid }), frameworkId, taskId, now,
  );
}

/** The framework acknowledged an update: it is forgotten, and the next of its task becomes due. Whether it was owed. */
export function acknowledgeUpdate(db: ClusterDb, frameworkId: string, taskId: string, uuid: string, now: number): boolean {
  const gone = db
    .delete(frameworkUpdates)
    .where(and(eq(frameworkUpdates.frameworkId, frameworkId), eq(frameworkUpdates.taskId, taskId), eq(frameworkUpdates.uuid, uuid)))
    .returning({ seq: frameworkUpdates.seq })
    .all();
  if (gone.length === 0) return false;
  const next = db
    .select({ seq: frameworkUpdates.seq })
    .from(frameworkUpdates)
    .where(and(eq(frameworkUpdates.frameworkId, frameworkId), eq(frameworkUpdates.taskId, taskId)))
    .orderBy(asc(frameworkUpdates.seq))
    .limit(1)
    .get();
  if (next) db.update(frameworkUpdates).set({ nextAt: now }).where(eq(frameworkUpdates.seq, next.seq)).run();
  return true;
}

/** The updates due now, oldest first; each is pushed back by its backoff for its next sending (one statement for them all). */
export function takeDueUpdates(db: ClusterDb, frameworkId: string, now: number): TaskStatusJson[] {
  const rows = db.$client.sql.exec<{ seq: number; status: string }>(
    `UPDATE framework_updates SET attempts = attempts + 1, next_at = ? + min(?, ? * (1 << min(attempts, 20)))
     WHERE framework_id = ? AND next_at IS NOT NULL AND next_at <= ? RETURNING seq, status`,
    now, RETRY_MAX_MS, RETRY_BASE_MS, frameworkId, now,
  ).toArray();
  return rows.sort((a, b) => a.seq - b.seq).map((r) => JSON.parse(r.status) as TaskStatusJson);
}

/** When the framework's next update is due, or null when it owes none. */
export function nextUpdateDue(db: ClusterDb, frameworkId: string): number | null {
  const row = db
    .select({ at: sql<number | null>`min(${frameworkUpdates.nextAt})` })
    .from(frameworkUpdates)
    .where(and(eq(frameworkUpdates.frameworkId, frameworkId), isNotNull(frameworkUpdates.nextAt)))
    .get();
  return row?.at ?? null;
}

/** A new subscription gets every unacknowledged update at once, without waiting out a backoff. */
export function resendUpdatesNow(db: ClusterDb, frameworkId: string, now: number): void {
  db.update(frameworkUpdates).set({ nextAt: now }).where(and(eq(frameworkUpdates.frameworkId, frameworkId), isNotNull(frameworkUpdates.nextAt))).run();
}

/** A torn-down framework is owed nothing. */
export function dropUpdates(db: ClusterDb, frameworkId: string): void {
  db.delete(frameworkUpdates).where(eq(frameworkUpdates.frameworkId, frameworkId)).run();
}

/** How many updates the framework has not acknowledged (for `/master/frameworks` and tests). */
export function pendingUpdateCount(db: ClusterDb, frameworkId: string): number {
  return db.select({ n: sql<number>`count(*)` }).from(frameworkUpdates).where(and(eq(frameworkUpdates.frameworkId, frameworkId))).get()?.n ?? 0;
}
