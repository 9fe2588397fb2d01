import { eq } from "drizzle-orm";
import type { ClusterDb } from "./db.ts";
import { timers } from "./schema.ts";

/**
 * One alarm drives every timer of the object: deadlines live in the `timers` table and the
 * alarm is armed for the earliest after every change. Handlers must be idempotent, since an
 * alarm may run again after a failure.
 */

/**
 * What the timers written since AlarmArm last read the earliest deadline can have done to it, per
 * database: absent, nothing; a number, brought it forward to that at most (scheduleNoLaterThan
 * only lowers a deadline); MOVED, anything (a deadline was moved later or removed). A write
 * rolled back may leave a deadline noted that is not stored: the alarm then comes early, finds
 * nothing due, and the next arming reads the table again. Every write of the table goes through
 * this module.
 */
const MOVED = Symbol("moved");
const sinceRead = new WeakMap<ClusterDb, number | typeof MOVED>();

/** The allocation round's timer: armed by the coordinator, and by whatever owes a round work by a time (an update's resend). */
export const ALLOCATE_TIMER = "allocate";

/**
 * Sets a timer to fire no later than `dueAt`: an earlier deadline already set is kept. Raw SQL:
 * every status frame calls this, and drizzle's query building costs more than the statement.
 */
export function scheduleNoLaterThan(db: ClusterDb, name: string, dueAt: number): void {
  db.$client.sql.exec("INSERT INTO timers (name, due_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)", name, dueAt);
  const noted = sinceRead.get(db);
  if (noted !== MOVED) sinceRead.set(db, noted === undefined ? dueAt : Math.min(noted, dueAt));
}

/** Sets a timer to exactly `dueAt`. */
export function scheduleAt(db: ClusterDb, name: string, dueAt: number): void {
  db.insert(timers).values({ name, dueAt }).onConflictDoUpdate({ target: timers.name, set: { dueAt } }).run();
  sinceRead.set(db, MOVED);
}

export function cancelTimer(db: ClusterDb, name: string): void {
  db.delete(timers).where(eq(timers.name, name)).run();
  sinceRead.set(db, MOVED);
}

/** Removes and returns the names of the timers due at `now`. Raw SQL: every alarm asks. */
export function takeDue(db: ClusterDb, now: number): string[] {
  sinceRead.set(db, MOVED);
  return db.$client.sql
    .exec<{ name: string }>("DELETE FROM timers WHERE due_at <= ? RETURNING name", now)
    .toArray()
    .map((r) => r.name);
}

/**
 * The earliest deadline of the timers table, given `known`, the earliest as last read (undefined:
 * never read): worked out from what was written since when that is enough, else read (one
 * indexed statement, which every commit would otherwise cost).
 */
function earliestDeadline(db: ClusterDb, known: number | null | undefined): number | null {
  const noted = sinceRead.get(db);
  sinceRead.delete(db);
  if (known !== undefined && noted !== MOVED) return noted === undefined ? known : known === null ? noted : Math.min(known, noted);
  return db.$client.sql.exec<{ due: number | null }>("SELECT MIN(due_at) AS due FROM timers").one().due;
}

/**
 * Arms the object's alarm for the earliest timer (or clears it when none is left). It remembers
 * what it last set, so a change that leaves the earliest deadline where it was costs no storage
 * call, and the earliest deadline, so a commit that only brings timers forward costs no read.
 * `fired()` must be called when the alarm runs (the runtime clears it).
 */
export class AlarmArm {
  private armedFor: number | null | undefined;
  /** The earliest deadline as last worked out (undefined: not yet, or the alarm ran since). */
  private earliestKnown: number | null | undefined;

  constructor(
    private readonly db: ClusterDb,
    private readonly storage: DurableObjectStorage,
  ) {}

  async arm(): Promise<void> {
    const next = this.earliest();
    if (next === this.armedFor) return;
    // Remembered before the write, so arms that overlap compare with the latest one issued.
    this.armedFor = next;
    try {
      if (next === null) await this.storage.deleteAlarm();
      else await this.storage.setAlarm(next);
    } catch (error) {
      this.armedFor = undefined;
      throw error;
    }
  }

  /**
   * Arms the alarm once this turn's commit is durable, so what the commit sends (held by the
   * output gate until then) does not also wait for the alarm's write. Locally that write is
   * a second database with its own fsync, about 0.4 ms on this project's machines, which a
   * task's TASK_RUNNING (its status commit schedules a round) paid on its way to subscribers.
   * Nothing is lost if the object stops between the two: it re-arms when it starts (`arm`).
   * `afterOutputs` waits a turn more, for the outputs the runtime moves on its own after the
   * commit (an event stream's chunks cross into the Worker a turn later); a caller whose own
   * answer waits for this does not ask for it.
   */
  async armAfterCommit(afterOutputs: boolean): Promise<void> {
    // Most commits leave the earliest deadline where it was: they wait for nothing.
    if (this.earliest() === this.armedFor) return;
    await this.storage.sync();
    if (afterOutputs) await new Promise((resolve) => setTimeout(resolve, 0));
    await this.arm();
  }

  private earliest(): number | null {
    this.earliestKnown = earliestDeadline(this.db, this.earliestKnown);
    return this.earliestKnown;
  }

  fired(): void {
    this.armedFor = undefined;
    this.earliestKnown = undefined;
  }
}
