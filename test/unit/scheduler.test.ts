import { describe, expect, it } from "vitest";
import { type AppTarget, type TaskSummary, decide, decideStop } from "../../control/cluster/frameworks/marathon/scheduler.ts";
import { seeded } from "../support/prng.ts";

const target = (instances: number, minimumHealthCapacity = 1, maximumOverCapacity = 1): AppTarget => ({
  version: "v2",
  instances,
  upgradeStrategy: { minimumHealthCapacity, maximumOverCapacity },
});
const summary = (current: [number, number], old: [number, number] = [0, 0], killing = 0): TaskSummary => ({
  current: { total: current[0], ready: current[1] },
  old: { total: old[0], ready: old[1] },
  killing,
});

/** Runs decisions to the end, treating launched tasks as ready at the next step and kills as done. */
function simulate(t: AppTarget, start: TaskSummary, maxSteps = 50) {
  let s = start;
  let minReady = s.current.ready + s.old.ready;
  let maxLive = s.current.total + s.old.total;
  for (let step = 0; step < maxSteps; step++) {
    const d = decide(t, s);
    if (d.complete) return { steps: step, minReady, maxLive };
    const oldReadyKilled = Math.max(0, d.killOld - (s.old.total - s.old.ready));
    s = {
      current: { total: s.current.total - d.killCurrent + d.launch, ready: Math.min(s.current.ready, s.current.total - d.killCurrent) },
      old: { total: s.old.total - d.killOld, ready: s.old.ready - oldReadyKilled },
      killing: 0,
    };
    maxLive = Math.max(maxLive, s.current.total + s.old.total);
    minReady = Math.min(minReady, s.current.ready + s.old.ready);
    // Launched tasks become ready before the next decision.
    s = { ...s, current: { total: s.current.total, ready: s.current.total } };
  }
  throw new Error("did not converge");
}

describe("steady state and scaling", () => {
  it("launches what is missing and completes once all are ready", () => {
    expect(decide(target(3), summary([0, 0]))).toEqual({ launch: 3, killOld: 0, killCurrent: 0, complete: false });
    expect(decide(target(3), summary([3, 2])).complete).toBe(false);
    expect(decide(target(3), summary([3, 3])).complete).toBe(true);
  });

  it("scales down by killing the surplus", () => {
    expect(decide(target(1), summary([3, 3]))).toMatchObject({ launch: 0, killCurrent: 2, complete: false });
  });

  it("is not complete while a kill is in flight", () => {
    expect(decide(target(1), summary([1, 1], [0, 0], 1)).complete).toBe(false);
  });

  it("replaces a lost instance", () => {
    expect(decide(target(3), summary([2, 2])).launch).toBe(1);
  });

  it("zero instances with no tasks is complete", () => {
    expect(decide(target(0), summary([0, 0])).complete).toBe(true);
  });
});

describe("rolling replacement", () => {
  it("with the defaults (1.0 / 1.0) keeps full capacity: starts all new first, then kills old as new are ready", () => {
    const first = decide(target(3), summary([0, 0], [3, 3]));
    expect(first).toMatchObject({ launch: 3, killOld: 0 });
    const later = decide(target(3), summary([3, 2], [3, 3]));
    expect(later).toMatchObject({ launch: 0, killOld: 2 });
    const run = simulate(target(3), summary([0, 0], [3, 3]));
    expect(run.minReady).toBeGreaterThanOrEqual(3);
    expect(run.maxLive).toBeLessThanOrEqual(6);
  });

  it("with 0.5 / 0 never drops below half nor goes over the count", () => {
    const run = simulate(target(4, 0.5, 0), summary([0, 0], [4, 4]));
    expect(run.minReady).toBeGreaterThanOrEqual(2);
    expect(run.maxLive).toBeLessThanOrEqual(4);
  });

  it("with 1 / 0.5 goes at most half over and never below full", () => {
    const run = simulate(target(4, 1, 0.5), summary([0, 0], [4, 4]));
    expect(run.minReady).toBeGreaterThanOrEqual(4);
    expect(run.maxLive).toBeLessThanOrEqual(6);
  });

  it("kills old tasks that are not ready first, since they give no capacity", () => {
    expect(decide(target(2, 1, 0), summary([0, 0], [2, 0]))).toMatchObject({ killOld: 2, launch: 2 });
  });

  it("with 1 / 0 (no room) gives up one instance of capacity rather than waiting forever", () => {
    expect(decide(target(2, 1, 0), summary([0, 0], [2, 2]))).toMatchObject({ killOld: 1, launch: 0 });
    expect(() => simulate(target(2, 1, 0), summary([0, 0], [2, 2]))).not.toThrow();
  });

  it("is never complete while old tasks remain", () => {
    expect(decide(target(1), summary([1, 1], [1, 1])).complete).toBe(false);
  });
});

describe("health-aware rolling replacement (ready = running, healthy and ready)", () => {
  it("a new version that never becomes ready leaves every old task running, and never completes", () => {
    for (const [min, over] of [
      [1, 1],
      [0.5, 0],
      [1, 0.5],
      [0, 1],
    ] as const) {
      const d = decide(target(3, min, over), summary([3, 0], [3, 3]));
      expect(d.complete).toBe(false);
      expect(d.launch).toBe(0);
      // Only what minimumHealthCapacity allows below full capacity may go, and 1.0 allows nothing.
      expect(d.killOld).toBe(Math.max(0, 3 - Math.ceil(3 * min)));
    }
  });

  it("new tasks killed for failing health checks are replaced only once their kills are done", () => {
    expect(decide(target(2), summary([0, 0], [2, 2], 2))).toMatchObject({ launch: 0, killOld: 0 });
    expect(decide(target(2), summary([0, 0], [2, 2], 0))).toMatchObject({ launch: 2, killOld: 0 });
  });

  it("old tasks that turned unhealthy give no capacity: they go first, and healthy ones stay for minimumHealthCapacity", () => {
    expect(decide(target(4, 0.5, 0), summary([0, 0], [4, 2]))).toMatchObject({ killOld: 2, launch: 2 });
  });

  it("keeps minimumHealthCapacity ready and maximumOverCapacity live (kills in flight included) at every step, over random states", () => {
    const random = seeded(6);
    const int = (n: number) => Math.floor(random() * (n + 1));
    for (let i = 0; i < 5000; i++) {
      const n = 1 + int(9);
      const t = target(n, [0, 0.25, 0.5, 0.75, 1][int(4)] ?? 1, [0, 0.5, 1][int(2)] ?? 1);
      const oldTotal = 1 + int(n);
      const currentTotal = int(n);
      const s = summary([currentTotal, int(currentTotal)], [oldTotal, int(oldTotal)], int(2));
      const d = decide(t, s);
      const minHealthy = Math.ceil(n * t.upgradeStrategy.minimumHealthCapacity);
      const maxLive = n + Math.floor(n * t.upgradeStrategy.maximumOverCapacity);
      const readyBefore = s.old.ready + s.current.ready;
      const oldReadyKilled = Math.max(0, d.killOld - (s.old.total - s.old.ready));
      const readyAfter = readyBefore - oldReadyKilled;
      // The one exception: no room to move at all gives up a single instance (see the 1 / 0 case).
      const forced = d.launch === 0 && d.killOld === 1 && s.killing === 0 && s.current.total === s.current.ready;
      expect(readyAfter, JSON.stringify({ t, s, d })).toBeGreaterThanOrEqual(Math.min(readyBefore, minHealthy) - (forced ? 1 : 0));
      const liveAfter = s.old.total - d.killOld + s.current.total - d.killCurrent + d.launch + s.killing;
      if (d.launch > 0) expect(liveAfter, JSON.stringify({ t, s, d })).toBeLessThanOrEqual(maxLive);
      expect(d.killOld).toBeLessThanOrEqual(s.old.total);
    }
  });
});

describe("stop", () => {
  it("kills everything and completes when nothing is left", () => {
    expect(decideStop(summary([2, 2], [1, 0]))).toEqual({ launch: 0, killOld: 1, killCurrent: 2, complete: false });
    expect(decideStop(summary([0, 0], [0, 0], 1)).complete).toBe(false);
    expect(decideStop(summary([0, 0])).complete).toBe(true);
  });
});
