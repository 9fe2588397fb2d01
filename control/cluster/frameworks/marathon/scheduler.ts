/**
 * Marathon's scheduling decision for one app, as a pure function: given the app (or its
 * absence, when it is being deleted) and a summary of its tasks, how many instances to
 * launch and how many of which tasks to kill. The same rule keeps the instance count in
 * steady state and drives deployments: scale, rolling replacement under `upgradeStrategy`
 * (Marathon's TaskReplaceActor), restart (a new version) and stop.
 */

export interface UpgradeStrategy {
  minimumHealthCapacity: number;
  maximumOverCapacity: number;
}

export interface AppTarget {
  version: string;
  instances: number;
  upgradeStrategy: UpgradeStrategy;
}

/** Counts of an app's live tasks, split by whether they run the target version. */
export interface TaskSummary {
  /** Tasks of the target version not being killed, and how many of them are ready. */
  current: { total: number; ready: number };
  /** Tasks of other versions not being killed, and how many of them are ready. */
  old: { total: number; ready: number };
  /** Tasks the master already asked to kill, of any version. */
  killing: number;
}

export interface Decision {
  /** New instances of the target version to launch. */
  launch: number;
  /** Old-version tasks to kill: first those not ready, then ready ones by killSelection. */
  killOld: number;
  /** Surplus target-version tasks to kill (scale down), by killSelection. */
  killCurrent: number;
  /** The app is exactly at its target: nothing old, nothing killing, every instance ready. */
  complete: boolean;
}

/** Decides for an app that is being deleted: kill everything, complete when nothing is left. */
export function decideStop(summary: TaskSummary): Decision {
  const live = summary.current.total + summary.old.total;
  return { launch: 0, killOld: summary.old.total, killCurrent: summary.current.total, complete: live + summary.killing === 0 };
}

/** Decides one step for an app toward `target`. */
export function decide(target: AppTarget, summary: TaskSummary): Decision {
  const n = target.instances;
  const { current, old } = summary;
  if (old.total === 0) {
    const killCurrent = Math.max(0, current.total - n);
    const launch = Math.max(0, n - current.total);
    const complete = killCurrent === 0 && launch === 0 && current.ready === n && summary.killing === 0;
    return { launch, killOld: 0, killCurrent, complete };
  }
  return rollingStep(target, summary);
}

/**
 * A rolling replacement step. Capacity never drops below `minimumHealthCapacity × n` ready
 * instances, and live instances never exceed `n + maximumOverCapacity × n`. A kill decided in
 * an earlier step that the agent has not confirmed yet still counts as live (a task killed for
 * failing its health checks may take its grace to go); one decided in this step counts as gone,
 * as in Marathon's TaskReplaceActor. Old tasks that are not ready give no capacity, so they go
 * first. New tasks that never become ready (failing health checks) leave the old ones be: the
 * deployment waits, and the user rolls back or forces a new version.
 */
function rollingStep(target: AppTarget, summary: TaskSummary): Decision {
  const n = target.instances;
  const { current, old } = summary;
  const minHealthy = Math.ceil(n * target.upgradeStrategy.minimumHealthCapacity);
  const maxLive = n + Math.floor(n * target.upgradeStrategy.maximumOverCapacity);
  const oldNotReady = old.total - old.ready;
  const killableReady = Math.max(0, Math.min(old.ready, old.ready + current.ready - minHealthy));
  // Surplus new tasks (after a scale-down during an upgrade) are killed too.
  const killCurrent = Math.max(0, current.total - n);
  let killOld = oldNotReady + killableReady;
  const remainingOld = old.total - killOld;
  const currentAfter = current.total - killCurrent;
  let launch = Math.max(0, Math.min(n - currentAfter, maxLive - remainingOld - currentAfter - summary.killing));
  const inFlight = currentAfter - current.ready + summary.killing;
  if (launch === 0 && killOld === 0 && inFlight === 0) {
    // minimumHealthCapacity 1 with maximumOverCapacity 0 leaves no room to move: give up one
    // instance of capacity, as Marathon does, rather than wait forever.
    killOld = 1;
    launch = 0;
  }
  return { launch, killOld, killCurrent, complete: false };
}
