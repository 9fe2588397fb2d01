import { describe, expect, it } from "vitest";
import {
  type CheckHealth,
  type HealthRules,
  NO_RESULT,
  applyResult,
  failureIgnored,
  overallHealth,
  shouldKill,
} from "../../control/cluster/frameworks/marathon/health-state.ts";

/** Marathon's health bookkeeping: grace period, failures in a row, when to kill, a task's overall health. */

const rules = (gracePeriodSeconds = 10, maxConsecutiveFailures = 3): HealthRules => ({ gracePeriodSeconds, maxConsecutiveFailures });
const STARTED = 1_000_000;
const at = (seconds: number) => STARTED + seconds * 1000;

/** Applies results in order; returns the final state and which results counted. */
function run(results: [healthy: boolean, seconds: number][], r = rules(), startedAt: number | null = STARTED) {
  let state: CheckHealth = NO_RESULT;
  const counted: boolean[] = [];
  for (const [healthy, seconds] of results) {
    const next = applyResult(state, { healthy, cause: healthy ? undefined : `HTTP 500 at ${seconds}`, at: at(seconds) }, startedAt, r);
    state = next.state;
    counted.push(next.counted);
  }
  return { state, counted };
}

describe("grace period", () => {
  it("ignores failures within gracePeriodSeconds of the start while the check has never passed", () => {
    const { state, counted } = run([
      [false, 1],
      [false, 9.9],
      [false, 10],
    ]);
    expect(counted).toEqual([false, false, true]);
    expect(state).toMatchObject({ alive: false, consecutiveFailures: 1, lastFailure: at(10), lastFailureCause: "HTTP 500 at 10", firstSuccess: null });
  });

  it("stops ignoring at the first pass, even inside the grace period", () => {
    const { state, counted } = run([
      [false, 1],
      [true, 2],
      [false, 3],
    ]);
    expect(counted).toEqual([false, true, true]);
    expect(state).toMatchObject({ alive: false, consecutiveFailures: 1, firstSuccess: at(2), lastSuccess: at(2), lastFailure: at(3) });
  });

  it("ignores failures of a task not known to run yet", () => {
    expect(failureIgnored(NO_RESULT, at(1000), null, rules())).toBe(true);
    expect(failureIgnored(NO_RESULT, at(1000), STARTED, rules())).toBe(false);
  });

  it("gracePeriodSeconds 0 counts the first failure", () => {
    expect(run([[false, 0]], rules(0)).counted).toEqual([true]);
  });
});

describe("consecutive failures", () => {
  it("counts failures in a row, and a pass starts over", () => {
    const { state } = run([
      [true, 11],
      [false, 12],
      [false, 13],
      [true, 14],
      [false, 15],
    ]);
    expect(state).toMatchObject({ alive: false, consecutiveFailures: 1, firstSuccess: at(11), lastSuccess: at(14), lastFailure: at(15) });
  });

  it("kills at maxConsecutiveFailures, not before; 0 never kills", () => {
    const two = run([
      [false, 11],
      [false, 12],
    ]).state;
    const three = run([
      [false, 11],
      [false, 12],
      [false, 13],
    ]).state;
    expect(shouldKill(two, rules())).toBe(false);
    expect(shouldKill(three, rules())).toBe(true);
    expect(shouldKill({ ...three, consecutiveFailures: 1000 }, rules(10, 0))).toBe(false);
  });

  it("ignored failures never add up to a kill", () => {
    const { state } = run(
      [
        [false, 1],
        [false, 2],
        [false, 3],
        [false, 4],
      ],
      rules(60, 3),
    );
    expect(state).toEqual(NO_RESULT);
    expect(shouldKill(state, rules(60, 3))).toBe(false);
  });
});

describe("a task's overall health", () => {
  const alive: CheckHealth = { ...NO_RESULT, alive: true, firstSuccess: 1, lastSuccess: 1 };
  const failing: CheckHealth = { ...NO_RESULT, consecutiveFailures: 1, lastFailure: 2, lastFailureCause: "HTTP 500" };

  it("is unknown until every check has passed, healthy once all have, unhealthy once any counted failure stands", () => {
    expect(overallHealth(new Map(), 2)).toBeNull();
    expect(overallHealth(new Map([[0, alive]]), 2)).toBeNull();
    expect(
      overallHealth(
        new Map([
          [0, alive],
          [1, alive],
        ]),
        2,
      ),
    ).toBe(true);
    expect(
      overallHealth(
        new Map([
          [0, alive],
          [1, failing],
        ]),
        2,
      ),
    ).toBe(false);
    expect(overallHealth(new Map([[1, failing]]), 2)).toBe(false);
  });

  it("a check whose failures the grace period hides leaves the task unknown", () => {
    expect(overallHealth(new Map([[0, NO_RESULT]]), 1)).toBeNull();
  });
});
