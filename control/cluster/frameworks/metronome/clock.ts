import type { ClusterDb } from "../../db.ts";
import { getMeta, setMeta } from "../../meta.ts";

/**
 * The schedule clock: what cron schedules read as "now". It is the object's clock plus an
 * offset that only a test can move (the Worker var DCX_TEST_CLOCK="on"), so a test sees an
 * every-minute schedule fire without waiting a minute. Only schedule evaluation reads it: due
 * times and `nextRunAt` are on this clock; runs, tasks and deadlines stay on the real one.
 */

const OFFSET_KEY = "metronome_clock_offset_ms";

/** How far the schedule clock is ahead of the object's clock, in ms (0 outside tests). */
export function scheduleClockOffset(db: ClusterDb): number {
  return Number(getMeta(db, OFFSET_KEY) ?? 0);
}

/** Moves the schedule clock forward; returns the new offset. Time never goes back. */
export function advanceScheduleClock(db: ClusterDb, ms: number): number {
  const offset = scheduleClockOffset(db) + Math.max(0, ms);
  setMeta(db, OFFSET_KEY, String(offset));
  return offset;
}
