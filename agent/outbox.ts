import type { Database } from "bun:sqlite";
import { randomUUID } from "node:crypto";
import { MAX_FRAME_BYTES, StatusUpdate } from "../protocol/index.ts";
import type { AgentMessage, ReadinessResult, TaskState } from "../protocol/index.ts";
import type { Logger } from "./log.ts";

/**
 * The durable status outbox. Status updates are delivered at least once: each is written to the
 * agent database before it is sent, and stays there until the master acks its `updateId`. On
 * every registered session all unacked updates are sent again, oldest first; the master applies
 * an `updateId` once and acks repeats.
 *
 * Updates are coalesced without delaying a lone one: after a quiet spell (no frame for
 * `coalesceMs`) an update goes out as soon as the event-loop turn that wrote it has finished
 * (`setImmediate`, so its transaction has committed and whatever that turn writes rides along,
 * promise chains included: a launch whose driver starts without waiting on I/O sends its
 * TASK_STARTING and TASK_RUNNING in one frame rather than the RUNNING a window later); within
 * `coalesceMs` of the last frame, a timer gathers everything written until the window ends
 * into one `status` frame. So a burst still costs the master about one frame per window (a
 * frame on a hibernated socket costs it about a millisecond however small), while a single
 * task's TASK_RUNNING is not held back. A frame carries at most `maxFrameUpdates` updates and
 * stays under the protocol's frame size limit.
 *
 * What must stay true: rows leave the table only through `ack`; sending never deletes. Within a
 * session each row is sent once (`sentSeq`), so order on the wire is the order of writing.
 */

/** The `status` frame the outbox hands to the session. */
export type StatusFrame = Extract<AgentMessage, { type: "status" }>;

/** A status update before the outbox gives it an id and a timestamp. */
export interface NewStatus {
  taskId: string;
  state: TaskState;
  message?: string;
  /** A health check's result, and which check (see protocol `StatusUpdate`). */
  healthy?: boolean;
  healthCheck?: number;
  readiness?: ReadinessResult;
}

/** What an ack removed. */
export interface AckedUpdate {
  updateId: string;
  taskId: string;
  state: TaskState;
}

/** Tuning of the outbox; the defaults are the production values. */
export interface OutboxOptions {
  log: Logger;
  coalesceMs?: number;
  maxFrameUpdates?: number;
  /** Clock of the updates' timestamps (epoch ms). */
  now?: () => number;
}

/** How long the first update of a batch waits for others to share its frame. */
export const DEFAULT_COALESCE_MS = 5;
/** Most updates in one frame (the protocol allows 10,000; smaller frames spread the master's work). */
export const DEFAULT_MAX_FRAME_UPDATES = 1_000;
const MAX_MESSAGE_CHARS = StatusUpdate.shape.message.unwrap().maxLength ?? 4096;
/** Room for `{"type":"status","updates":[]}` around the updates. */
const FRAME_ENVELOPE_CHARS = 64;

/** Whether a task id can appear in a status update at all (kill and reconcile frames do not check). */
export function isReportableTaskId(taskId: string): boolean {
  return StatusUpdate.shape.taskId.safeParse(taskId).success;
}

/** The status outbox of one agent database; see the module comment for its guarantees. */
export class Outbox {
  private readonly log: Logger;
  private readonly coalesceMs: number;
  private readonly maxFrameUpdates: number;
  private readonly now: () => number;
  private send: ((frame: StatusFrame) => void) | undefined;
  /** Highest `seq` sent in the current session. */
  private sentSeq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** A flush queued for the end of this turn (the leading edge of a window). */
  private immediate: ReturnType<typeof setImmediate> | undefined;
  /** When the last frame went out (performance.now()), or -Infinity. */
  private lastFlushAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: Database,
    options: OutboxOptions,
  ) {
    this.log = options.log;
    this.coalesceMs = options.coalesceMs ?? DEFAULT_COALESCE_MS;
    this.maxFrameUpdates = options.maxFrameUpdates ?? DEFAULT_MAX_FRAME_UPDATES;
    this.now = options.now ?? Date.now;
    db.run(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      update_id TEXT NOT NULL UNIQUE,
      task_id TEXT NOT NULL,
      state TEXT NOT NULL,
      body TEXT NOT NULL
    )`);
  }

  /**
   * Writes a new update and schedules its sending. Throws, writing nothing, when the update
   * would not pass the protocol's schema: one bad row would get every frame it rides in refused.
   */
  add(status: NewStatus): StatusUpdate {
    const message = status.message === undefined ? undefined : truncate(status.message, MAX_MESSAGE_CHARS);
    const update = StatusUpdate.parse({ ...status, message, updateId: randomUUID(), timestamp: this.now() });
    this.db
      .query("INSERT INTO outbox (update_id, task_id, state, body) VALUES (?, ?, ?, ?)")
      .run(update.updateId, update.taskId, update.state, JSON.stringify(update));
    this.schedule();
    return update;
  }

  /**
   * Sends an update now without writing it, for when the database itself cannot be written
   * (a full disk): at most once, and only while a session is up. Its ack finds no row and is
   * skipped. If it is lost, the master's reconciliation on the next register covers it (a task
   * the master expects and the agent does not report becomes TASK_LOST). Returns whether it went out.
   */
  sendUnrecorded(status: NewStatus): boolean {
    if (this.send === undefined) return false;
    const message = status.message === undefined ? undefined : truncate(status.message, MAX_MESSAGE_CHARS);
    this.send({ type: "status", updates: [StatusUpdate.parse({ ...status, message, updateId: randomUUID(), timestamp: this.now() })] });
    return true;
  }

  /** Removes the acked updates; ids it does not hold (already acked, or not ours) are skipped. */
  ack(updateIds: readonly string[]): AckedUpdate[] {
    const remove = this.db.query<{ task_id: string; state: TaskState }, [string]>("DELETE FROM outbox WHERE update_id = ? RETURNING task_id, state");
    const acked: AckedUpdate[] = [];
    this.db.transaction(() => {
      for (const updateId of updateIds) {
        const row = remove.get(updateId);
        if (row !== null) acked.push({ updateId, taskId: row.task_id, state: row.state });
      }
    })();
    return acked;
  }

  /** A session is registered: send through `send` from now on, starting with every unacked update. */
  connect(send: (frame: StatusFrame) => void): void {
    this.send = send;
    this.sentSeq = 0;
    const count = this.count();
    if (count > 0) this.log.info("outbox_resent", { count });
    this.flush();
  }

  /** The session ended: keep writing, send nothing until the next `connect`. */
  disconnect(): void {
    this.send = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  /** Arranges the sending of what was just written: at the end of this turn after a quiet spell, else when the window ends. */
  private schedule(): void {
    if (this.send === undefined || this.timer !== undefined || this.immediate !== undefined) return;
    const wait = this.lastFlushAt + this.coalesceMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => this.flush(), wait);
      return;
    }
    this.immediate = setImmediate(() => this.flush());
  }

  /** Sends every update not yet sent in this session, now, in frames of at most `maxFrameUpdates`. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.immediate);
    this.immediate = undefined;
    const send = this.send;
    if (send === undefined) return;
    const next = this.db.query<{ seq: number; body: string }, [number, number]>("SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    for (;;) {
      const rows = next.all(this.sentSeq, this.maxFrameUpdates);
      if (rows.length === 0) return;
      const { bodies, lastSeq } = fitFrame(rows);
      send({ type: "status", updates: bodies.map((body) => JSON.parse(body) as StatusUpdate) });
      this.sentSeq = lastSeq;
      // Only a frame sent opens a window: a flush that found nothing holds nothing back.
      this.lastFlushAt = performance.now();
    }
  }

  /** Unacked updates, oldest first. */
  pending(): StatusUpdate[] {
    return this.db
      .query<{ body: string }, []>("SELECT body FROM outbox ORDER BY seq")
      .all()
      .map((row) => JSON.parse(row.body) as StatusUpdate);
  }

  /** How many updates wait for an ack. */
  count(): number {
    return this.db.query<{ n: number }, []>("SELECT count(*) AS n FROM outbox").get()?.n ?? 0;
  }

  /** Resolves true once every update is acked, or false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.count() > 0) {
      if (performance.now() >= deadline) return false;
      await Bun.sleep(10);
    }
    return true;
  }

  /** Stops the coalescing timer; the rows stay for the next agent process. */
  close(): void {
    this.disconnect();
  }
}

/** The longest prefix of `rows` that fits in one frame (always at least one row). */
function fitFrame(rows: { seq: number; body: string }[]): { bodies: string[]; lastSeq: number } {
  const bodies: string[] = [];
  let chars = FRAME_ENVELOPE_CHARS;
  let lastSeq = 0;
  for (const row of rows) {
    chars += row.body.length + 1;
    // A single update is far below the limit (its message is capped), so the first always fits.
    if (bodies.length > 0 && chars > MAX_FRAME_BYTES) break;
    bodies.push(row.body);
    lastSeq = row.seq;
  }
  return { bodies, lastSeq };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
