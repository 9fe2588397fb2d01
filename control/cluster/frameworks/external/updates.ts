import { and, eq, isNotNull, sql } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { frameworkUpdates } from "../../schema.ts";
import { jsonParams } from "../../tasks.ts";
import { ALLOCATE_TIMER, scheduleNoLaterThan } from "../../timers.ts";
import { newUuids, type TaskStatusJson } from "./status.ts";

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

/**
 * Stores updates for the framework, in order. One is due now unless an earlier update of its
 * task awaits its ack (stored before, or earlier in `statuses`); when due and `sendNow` (the
 * framework is subscribed), it is taken at once, counted as its first sending with its first
 * resend due RETRY_BASE_MS later, and returned for the caller to send: an update does not
 * wait for the next allocation round. Returned as its TaskStatus JSON (uuid included): each
 * status is serialized once, for its row and for its UPDATE event (`updateLine`), as a status
 * batch may owe thousands. A statement per jsonParams part whatever the count: the statuses
 * travel as one JSON array, from which SQLite reads each row's uuid and task.
 */
export function oweUpdates(db: ClusterDb, frameworkId: string, statuses: Omit<TaskStatusJson, "uuid">[], now: number, sendNow: boolean): string[] {
  if (statuses.length === 0) return [];
  const sql = db.$client.sql;
  const taskIds = [...new Set(statuses.map((s) => s.task_id.value))];
  const queued = new Set(
    sql
      .exec<{ task_id: string }>(
        "SELECT DISTINCT task_id FROM framework_updates WHERE framework_id = ? AND task_id IN (SELECT value FROM json_each(?))",
        frameworkId,
        JSON.stringify(taskIds),
      )
      .toArray()
      .map((r) => r.task_id),
  );
  // Only the first update of a task not already waiting is due; the rest queue behind it.
  const firsts: string[] = [];
  const behind: string[] = [];
  const uuids = newUuids(statuses.length);
  statuses.forEach((status, i) => {
    const taskId = status.task_id.value;
    // The uuid last, where `{ ...status, uuid }` puts it, without copying the status first (a
    // batch may owe thousands); Base64 needs no escaping.
    const json = JSON.stringify(status);
    const text = `${json.slice(0, -1)},"uuid":"${uuids[i]}"}`;
    (queued.has(taskId) ? behind : firsts).push(text);
    queued.add(taskId);
  });
  // Firsts are written before the updates queued behind them (a task's updates go out in seq
  // order): sent now (attempts 1, first resend) or due at the next round (0, now); waiting (0, null).
  insertUpdates(sql, frameworkId, firsts, sendNow ? 1 : 0, sendNow ? now + RETRY_BASE_MS : now);
  insertUpdates(sql, frameworkId, behind, 0, null);
  // The round that sends them again if unacknowledged must come by then: a task's change asks
  // for no round by itself (Framework.roundOnLiveChange). Updates owed while the framework is
  // away go out when it subscribes again (resendUpdatesNow).
  if (sendNow && firsts.length > 0) scheduleNoLaterThan(db, ALLOCATE_TIMER, now + RETRY_BASE_MS);
  return sendNow ? firsts : [];
}

/**
 * Writes status rows sharing `attempts` and `next_at`, in order. The row's `status` is the
 * array element's JSON text as SQLite renders it back (the same text, compact as written), and
 * its uuid and task are read from it: no second copy of either travels with it. The array is
 * read as JSONB (`jsonb_each`): its elements' fields are then read without parsing each
 * element's text again, a quarter less per row than `json_each` (measured inside workerd).
 */
function insertUpdates(sql: SqlStorage, frameworkId: string, texts: string[], attempts: number, nextAt: number | null): void {
  for (const param of jsonParams(texts, (text) => text)) {
    sql.exec(
      `INSERT INTO framework_updates (uuid, framework_id, task_id, status, attempts, next_at)
       SELECT value ->> '$.uuid', ?, value ->> '$.task_id.value', json(value), ?, ? FROM jsonb_each(?) ORDER BY key`,
      frameworkId,
      attempts,
      nextAt,
      param,
    );
  }
}

/**
 * The framework acknowledged an update: it is forgotten, and the next update of its task, if
 * any, is taken at once (first sending, resend due after RETRY_BASE_MS, by when the round that
 * resends it is armed, as in oweUpdates) and returned for the caller to send, as its TaskStatus
 * JSON (as stored). Undefined when nothing follows (or the uuid was not owed: Mesos ignores those too).
 */
export function acknowledgeUpdate(db: ClusterDb, frameworkId: string, taskId: string, uuid: string, now: number): string | undefined {
  // Raw statements: a framework acknowledges every update, thousands a minute when busy. The
  // delete names the task's next update (a seq other than its own), so the usual ack, of a
  // task's latest update, costs this one statement.
  const sql = db.$client.sql;
  const deleted = sql
    .exec<{ next: number | null }>(
      `DELETE FROM framework_updates WHERE uuid = ? AND framework_id = ? AND task_id = ?
     RETURNING (SELECT min(n.seq) FROM framework_updates AS n
                WHERE n.framework_id = framework_updates.framework_id AND n.task_id = framework_updates.task_id AND n.seq != framework_updates.seq) AS next`,
      uuid,
      frameworkId,
      taskId,
    )
    .toArray()[0];
  if (deleted?.next === null || deleted?.next === undefined) return undefined;
  const next = sql
    .exec<{ status: string }>("UPDATE framework_updates SET attempts = 1, next_at = ? WHERE seq = ? RETURNING status", now + RETRY_BASE_MS, deleted.next)
    .toArray()[0];
  if (next) scheduleNoLaterThan(db, ALLOCATE_TIMER, now + RETRY_BASE_MS);
  return next?.status;
}

/*
 * Every allocation round asks each framework what is due (takeDueUpdates, nextUpdateDue). The
 * `+` before framework_id keeps SQLite from reading the framework's rows through the
 * (framework_id, task_id) index, which for a framework owing its thousands of sent updates
 * their acks means reading them all, every round: it walks the next_at index instead, from the
 * earliest due, and reads only what is due (or the earliest row).
 */

/** The updates due now (their TaskStatus JSON, as stored), oldest first; each is pushed back by its backoff for its next sending (one statement for them all). */
export function takeDueUpdates(db: ClusterDb, frameworkId: string, now: number): string[] {
  const rows = db.$client.sql
    .exec<{ seq: number; status: string }>(
      `UPDATE framework_updates SET attempts = attempts + 1, next_at = ? + min(?, ? * (1 << min(attempts, 20)))
     WHERE +framework_id = ? AND next_at IS NOT NULL AND next_at <= ? RETURNING seq, status`,
      now,
      RETRY_MAX_MS,
      RETRY_BASE_MS,
      frameworkId,
      now,
    )
    .toArray();
  return rows.sort((a, b) => a.seq - b.seq).map((r) => r.status);
}

/** When the framework's next update is due, or null when it owes none. */
export function nextUpdateDue(db: ClusterDb, frameworkId: string): number | null {
  const row = db.$client.sql
    .exec<{ at: number }>("SELECT next_at AS at FROM framework_updates WHERE +framework_id = ? AND next_at IS NOT NULL ORDER BY next_at LIMIT 1", frameworkId)
    .toArray()[0];
  return row?.at ?? null;
}

/** A new subscription gets every unacknowledged update at once, without waiting out a backoff. */
export function resendUpdatesNow(db: ClusterDb, frameworkId: string, now: number): void {
  db.update(frameworkUpdates)
    .set({ nextAt: now })
    .where(and(eq(frameworkUpdates.frameworkId, frameworkId), isNotNull(frameworkUpdates.nextAt)))
    .run();
}

/** A torn-down framework is owed nothing. */
export function dropUpdates(db: ClusterDb, frameworkId: string): void {
  db.delete(frameworkUpdates).where(eq(frameworkUpdates.frameworkId, frameworkId)).run();
}

/** How many updates the framework has not acknowledged (for `/master/frameworks` and tests). */
export function pendingUpdateCount(db: ClusterDb, frameworkId: string): number {
  return (
    db
      .select({ n: sql<number>`count(*)` })
      .from(frameworkUpdates)
      .where(and(eq(frameworkUpdates.frameworkId, frameworkId)))
      .get()?.n ?? 0
  );
}
