/**
 * Marathon's health bookkeeping as pure functions (after `HealthCheckActor` and `Health` in
 * Marathon): what one probe result does to a check's state, when failures are ignored, when a
 * task must be killed, and what a task's overall health is. health.ts stores the state and
 * acts on it.
 */

/** One health check's state for one task: Marathon's `Health`, times in epoch ms. */
export interface CheckHealth {
  /** The check passed, and has not failed (outside the grace period) since. */
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess: number | null;
  lastSuccess: number | null;
  lastFailure: number | null;
  lastFailureCause: string | null;
}

/** What the task has before any result. */
export const NO_RESULT: CheckHealth = {
  alive: false,
  consecutiveFailures: 0,
  firstSuccess: null,
  lastSuccess: null,
  lastFailure: null,
  lastFailureCause: null,
};

/** The parts of an app's health check that judge results. */
export interface HealthRules {
  gracePeriodSeconds: number;
  /** 0: never kill. */
  maxConsecutiveFailures: number;
}

/** One probe's result as the agent reported it; `at` is the agent's clock, like the task's start. */
export interface ProbeResult {
  healthy: boolean;
  cause?: string | undefined;
  at: number;
}

/**
 * Marathon's `ignoreFailures`: a failure does not count while the task is in its grace period
 * and has never passed. `startedAt` null means the task is not running yet, which ignores too.
 */
export function failureIgnored(state: CheckHealth, at: number, startedAt: number | null, rules: HealthRules): boolean {
  if (state.firstSuccess !== null) return false;
  return startedAt === null || at < startedAt + rules.gracePeriodSeconds * 1000;
}

/** What one result does to a check's state; `counted` is false for a failure the grace period hides. */
export function applyResult(state: CheckHealth, result: ProbeResult, startedAt: number | null, rules: HealthRules): { state: CheckHealth; counted: boolean } {
  if (result.healthy) {
    return {
      state: { ...state, alive: true, consecutiveFailures: 0, firstSuccess: state.firstSuccess ?? result.at, lastSuccess: result.at },
      counted: true,
    };
  }
  if (failureIgnored(state, result.at, startedAt, rules)) return { state, counted: false };
  return {
    state: {
      ...state,
      alive: false,
      consecutiveFailures: state.consecutiveFailures + 1,
      lastFailure: result.at,
      lastFailureCause: result.cause ?? "health check failed",
    },
    counted: true,
  };
}

/**
 * Whether a check's state calls for killing the task: `maxConsecutiveFailures` failures in a
 * row, as Mesos counts for the checks it runs on the agent (Marathon's own checks killed one
 * failure later). 0 disables killing.
 */
export function shouldKill(state: CheckHealth, rules: HealthRules): boolean {
  return rules.maxConsecutiveFailures > 0 && state.consecutiveFailures >= rules.maxConsecutiveFailures;
}

/**
 * A task's health over its `checkCount` checks: true once every check is alive, false once any
 * has a counted failure it has not recovered from, null before (no result yet, or failures the
 * grace period hides). Unknown counts as neither healthy nor unhealthy.
 */
export function overallHealth(checks: ReadonlyMap<number, CheckHealth>, checkCount: number): boolean | null {
  let allAlive = checkCount > 0;
  for (let i = 0; i < checkCount; i++) {
    const check = checks.get(i);
    if (check !== undefined && !check.alive && check.lastFailure !== null) return false;
    if (check === undefined || !check.alive) allAlive = false;
  }
  return allAlive ? true : null;
}
