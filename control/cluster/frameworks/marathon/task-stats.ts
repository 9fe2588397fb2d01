/**
 * Marathon's `taskStats` of an app (`TaskStatsByVersion`): counters and life times of its live
 * tasks, in all and split by version against the app's last scaling and last config change.
 * Pure: tasks and the clock in, JSON out.
 */

/** What statistics read of a task. */
export interface StatsTask {
  version: string;
  state: string;
  /** null while no health result is known, or for an app without health checks. */
  healthy: boolean | null;
  startedAt: number | null;
}

/** Statistics of some tasks: counters, and life times of those that have started. */
export interface TaskStats {
  stats: {
    counts: { staged: number; running: number; healthy: number; unhealthy: number };
    lifeTime?: { averageSeconds: number; medianSeconds: number };
  };
}

/** Each kind appears only when some task falls under it, as in Marathon. */
export interface TaskStatsByVersion {
  startedAfterLastScaling?: TaskStats;
  withLatestConfig?: TaskStats;
  withOutdatedConfig?: TaskStats;
  totalSummary?: TaskStats;
}

function statsOf(tasks: readonly StatsTask[], now: number): TaskStats | undefined {
  if (tasks.length === 0) return undefined;
  const counts = { staged: 0, running: 0, healthy: 0, unhealthy: 0 };
  for (const t of tasks) {
    if (t.state === "TASK_STAGING" || t.state === "TASK_STARTING") counts.staged++;
    if (t.state === "TASK_RUNNING") counts.running++;
    if (t.healthy === true) counts.healthy++;
    if (t.healthy === false) counts.unhealthy++;
  }
  // Life time counts from the start (Marathon's `startedAt`), so staging tasks have none yet.
  const lifeTimes = tasks.flatMap((t) => (t.startedAt === null ? [] : [(now - t.startedAt) / 1000])).sort((a, b) => a - b);
  if (lifeTimes.length === 0) return { stats: { counts } };
  const averageSeconds = lifeTimes.reduce((sum, s) => sum + s, 0) / lifeTimes.length;
  const medianSeconds = lifeTimes[Math.floor(lifeTimes.length / 2)] ?? 0;
  return { stats: { counts, lifeTime: { averageSeconds, medianSeconds } } };
}

/**
 * `taskStats` of an app's live tasks. A task is "started after last scaling" when its version
 * is at or after `lastScalingAt`, "with latest config" at or after `lastConfigChangeAt`, and
 * "with outdated config" before it.
 */
export function taskStatsByVersion(
  tasks: readonly StatsTask[],
  versionInfo: { lastScalingAt: string; lastConfigChangeAt: string },
  now: number,
): TaskStatsByVersion {
  const at = (iso: string) => Date.parse(iso);
  const scaling = at(versionInfo.lastScalingAt);
  const config = at(versionInfo.lastConfigChangeAt);
  const parts: [keyof TaskStatsByVersion, TaskStats | undefined][] = [
    [
      "startedAfterLastScaling",
      statsOf(
        tasks.filter((t) => at(t.version) >= scaling),
        now,
      ),
    ],
    [
      "withLatestConfig",
      statsOf(
        tasks.filter((t) => at(t.version) >= config),
        now,
      ),
    ],
    [
      "withOutdatedConfig",
      statsOf(
        tasks.filter((t) => at(t.version) < config),
        now,
      ),
    ],
    ["totalSummary", statsOf(tasks, now)],
  ];
  return Object.fromEntries(parts.filter(([, s]) => s !== undefined));
}
