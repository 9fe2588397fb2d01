import { describe, expect, it } from "vitest";
import { parseCron } from "../../control/cluster/frameworks/metronome/cron.ts";
import { type RunState, decideSchedule, runWakeAt, stepRun, wantsLaunch } from "../../control/cluster/frameworks/metronome/scheduler.ts";

/** Metronome's two decisions: when schedules start runs (missed deadlines, concurrency), and how runs move. */

const everyMinute = (() => {
  const parsed = parseCron("* * * * *", "UTC");
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.cron;
})();
const T = Date.parse("2026-03-09T14:00:00Z");
const MIN = 60_000;
const rules = (overrides: Partial<Parameters<typeof decideSchedule>[0]> = {}) => ({
  enabled: true,
  startingDeadlineSeconds: 60,
  concurrencyPolicy: "ALLOW" as const,
  ...overrides,
});

describe("schedule decisions", () => {
  it("waits until the due time", () => {
    expect(decideSchedule(rules(), everyMinute, T, T - 1, 0)).toEqual({ start: null, replace: false, missed: false, nextRunAt: T, wakeAt: T });
  });

  it("starts the run that is due, and moves to the next occurrence", () => {
    expect(decideSchedule(rules(), everyMinute, T, T, 0)).toEqual({ start: T, replace: false, missed: false, nextRunAt: T + MIN, wakeAt: T + MIN });
  });

  it("still starts a late run within startingDeadlineSeconds", () => {
    expect(decideSchedule(rules({ startingDeadlineSeconds: 60 }), everyMinute, T, T + 50_000, 0).start).toBe(T);
  });

  it("skips a due time whose starting deadline passed (the object was asleep, say)", () => {
    const d = decideSchedule(rules({ startingDeadlineSeconds: 30 }), everyMinute, T, T + 45_000, 0);
    expect(d).toMatchObject({ start: null, missed: true, nextRunAt: T + MIN, wakeAt: T + MIN });
  });

  it("after an outage starts one run, for the latest due time, and counts the others missed", () => {
    const d = decideSchedule(rules({ startingDeadlineSeconds: 60 }), everyMinute, T, T + 10 * MIN + 5_000, 0);
    expect(d).toMatchObject({ start: T + 10 * MIN, missed: true, nextRunAt: T + 11 * MIN });
  });

  it("FORBID waits for the active run until the deadline, then gives the due time up", () => {
    const forbid = rules({ concurrencyPolicy: "FORBID", startingDeadlineSeconds: 30 });
    const waiting = decideSchedule(forbid, everyMinute, T, T + 1_000, 1);
    expect(waiting).toEqual({ start: null, replace: false, missed: false, nextRunAt: T, wakeAt: T + 30_001 });
    // The active run ended within the deadline: the due time starts.
    expect(decideSchedule(forbid, everyMinute, T, T + 20_000, 0).start).toBe(T);
    // It did not: skipped, on to the next occurrence.
    expect(decideSchedule(forbid, everyMinute, T, T + 30_001, 1)).toMatchObject({ start: null, missed: true, nextRunAt: T + MIN });
  });

  it("ALLOW starts beside an active run; REPLACE starts and replaces it", () => {
    expect(decideSchedule(rules(), everyMinute, T, T, 3)).toMatchObject({ start: T, replace: false });
    expect(decideSchedule(rules({ concurrencyPolicy: "REPLACE" }), everyMinute, T, T, 1)).toMatchObject({ start: T, replace: true });
    expect(decideSchedule(rules({ concurrencyPolicy: "REPLACE" }), everyMinute, T, T, 0)).toMatchObject({ start: T, replace: false });
  });

  it("a disabled schedule, or one with nothing due again, does nothing and wants no wake-up", () => {
    expect(decideSchedule(rules({ enabled: false }), everyMinute, T, T + MIN, 0)).toMatchObject({ start: null, wakeAt: null });
    expect(decideSchedule(rules(), everyMinute, null, T, 0)).toMatchObject({ start: null, nextRunAt: null, wakeAt: null });
  });
});

const NOW = T;
const starting = (overrides: Partial<RunState> = {}): RunState => ({
  status: "STARTING",
  createdAt: NOW,
  completedAt: null,
  startingDeadline: null,
  delayUntil: null,
  backoffSeconds: 1,
  ...overrides,
});
const spec = (restart: { policy: "NEVER" | "ON_FAILURE"; activeDeadlineSeconds?: number }, maxLaunchDelay = 3600) => ({ restart, maxLaunchDelay });
const NEVER = spec({ policy: "NEVER" });
const ON_FAILURE = spec({ policy: "ON_FAILURE" });

describe("run steps", () => {
  it("a run with a live task is ACTIVE; a finished task makes it SUCCESS", () => {
    expect(stepRun(starting(), NEVER, { live: 1, ended: [] }, NOW).status).toBe("ACTIVE");
    expect(stepRun(starting({ status: "ACTIVE" }), NEVER, { live: 0, ended: ["TASK_FINISHED"] }, NOW + 5)).toMatchObject({
      status: "SUCCESS",
      completedAt: NOW + 5,
    });
  });

  it("NEVER: a failed task fails the run", () => {
    expect(stepRun(starting({ status: "ACTIVE" }), NEVER, { live: 0, ended: ["TASK_FAILED"] }, NOW + 5)).toMatchObject({
      status: "FAILED",
      completedAt: NOW + 5,
    });
  });

  it("ON_FAILURE relaunches after a backoff that grows by 1.15 up to maxLaunchDelay", () => {
    let run = starting({ status: "ACTIVE" });
    const delays: number[] = [];
    let now = NOW;
    for (let i = 0; i < 7; i++) {
      run = stepRun(run, spec({ policy: "ON_FAILURE" }, 2), { live: 0, ended: ["TASK_FAILED"] }, now);
      expect(run.status).toBe("ACTIVE");
      delays.push((run.delayUntil ?? 0) - now);
      expect(wantsLaunch(run, 0, now)).toBe(false);
      expect(runWakeAt(run, now)).toBe(run.delayUntil);
      now = run.delayUntil ?? now;
      expect(wantsLaunch(run, 0, now)).toBe(true);
    }
    expect(delays.map(Math.round)).toEqual([1000, 1150, 1323, 1521, 1749, 2000, 2000]);
  });

  it("kills and lost tasks count as failures too", () => {
    for (const ended of [["TASK_KILLED"], ["TASK_LOST"], ["TASK_UNREACHABLE"], ["TASK_ERROR"]] as const) {
      expect(stepRun(starting({ status: "ACTIVE" }), ON_FAILURE, { live: 0, ended: [...ended] }, NOW).delayUntil).toBe(NOW + 1000);
    }
  });

  it("ON_FAILURE stops relaunching once the relaunch would fall past activeDeadlineSeconds", () => {
    const run = starting({ status: "ACTIVE", createdAt: NOW });
    const deadline = spec({ policy: "ON_FAILURE", activeDeadlineSeconds: 10 });
    expect(stepRun(run, deadline, { live: 0, ended: ["TASK_FAILED"] }, NOW + 8_000).status).toBe("ACTIVE");
    expect(stepRun(run, deadline, { live: 0, ended: ["TASK_FAILED"] }, NOW + 9_500)).toMatchObject({ status: "FAILED", completedAt: NOW + 9_500 });
    expect(stepRun(run, spec({ policy: "ON_FAILURE", activeDeadlineSeconds: 0 }), { live: 0, ended: ["TASK_FAILED"] }, NOW).status).toBe("FAILED");
  });

  it("a scheduled run that launched nothing by its starting deadline fails", () => {
    const run = starting({ startingDeadline: NOW + 60_000 });
    expect(stepRun(run, NEVER, { live: 0, ended: [] }, NOW + 60_000).status).toBe("STARTING");
    expect(runWakeAt(run, NOW)).toBe(NOW + 60_001);
    expect(stepRun(run, NEVER, { live: 0, ended: [] }, NOW + 60_001)).toMatchObject({ status: "FAILED", completedAt: NOW + 60_001 });
    // Launched in time: the deadline no longer applies.
    expect(stepRun({ ...run, status: "ACTIVE" }, NEVER, { live: 0, ended: [] }, NOW + 120_000).status).toBe("ACTIVE");
  });

  it("a finished run never moves, whatever its tasks do", () => {
    const done = starting({ status: "FAILED", completedAt: NOW });
    expect(stepRun(done, ON_FAILURE, { live: 0, ended: ["TASK_KILLED"] }, NOW + 1)).toBe(done);
    expect(wantsLaunch(done, 0, NOW + 1)).toBe(false);
    expect(runWakeAt(done, NOW)).toBeNull();
  });
});
