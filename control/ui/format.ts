/** How the UI writes numbers, sizes, times and states (pure, so unit tests cover it). */

/** CPUs with at most two decimals: `0.1`, `2`, `1.25`. */
export function cpus(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** Mesos sizes are MB; shown as MiB below 1024 and GiB above, as DC/OS does. */
export function megabytes(mb: number): string {
  if (Math.abs(mb) < 1024) return `${Math.round(mb * 10) / 10} MiB`;
  return `${Math.round((mb / 1024) * 10) / 10} GiB`;
}

/** `used of total` as a percentage, 0 when there is no total. */
export function percent(used: number, total: number): number {
  return total > 0 ? Math.round((used / total) * 1000) / 10 : 0;
}

/** An ISO time as `2026-11-29 21:37:05 UTC`, or an en dash for none. */
export function time(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso.replace(/\+0000$/, "Z"));
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** A task state without Mesos's prefix: `TASK_RUNNING` → `RUNNING`. */
export function taskState(state: string): string {
  return state.replace(/^TASK_/, "");
}

/** A class name for a state's badge: good, busy, bad or idle. */
export function stateTone(state: string): "good" | "busy" | "bad" | "idle" {
  const s = taskState(state).toUpperCase();
  if (["RUNNING", "FINISHED", "ACTIVE", "SUCCESS", "HEALTHY", "DEPLOYED"].includes(s)) return "good";
  if (["STAGING", "STARTING", "KILLING", "DEPLOYING", "WAITING", "DELAYED", "INITIAL"].includes(s)) return "busy";
  if (["FAILED", "LOST", "ERROR", "DROPPED", "GONE", "UNREACHABLE", "UNKNOWN", "UNHEALTHY", "DISCONNECTED", "KILLED"].includes(s)) return "bad";
  return "idle";
}

/** What the UI needs of a Marathon app to say how it is doing. */
export interface AppCounts {
  instances: number;
  tasksRunning: number;
  tasksStaged: number;
  tasksHealthy: number;
  tasksUnhealthy: number;
  deployments: { id: string }[];
  healthChecks?: unknown[];
}

/** The statuses an app can be in, the ones needing attention first (a group's summary lists them in this order). */
export const APP_STATUSES = ["Delayed", "Waiting", "Deploying", "Running", "Suspended"] as const;
export type AppStatus = (typeof APP_STATUSES)[number];

/**
 * DC/OS's service status: Deploying while a deployment holds the app, Suspended at 0
 * instances, Running when every instance runs, else Waiting (for resources or a launch).
 */
export function appStatus(app: AppCounts, delayed = false): AppStatus {
  if (app.deployments.length > 0) return delayed ? "Delayed" : "Deploying";
  if (app.instances === 0) return "Suspended";
  if (app.tasksRunning >= app.instances) return "Running";
  return delayed ? "Delayed" : "Waiting";
}

/** `2/3 running`, plus `1 healthy` when the app has health checks. */
export function instancesSummary(app: AppCounts): string {
  const base = `${app.tasksRunning}/${app.instances} running`;
  return (app.healthChecks?.length ?? 0) > 0 ? `${base}, ${app.tasksHealthy} healthy` : base;
}

/** What a group's row sums up over the apps inside it (at any depth). */
export interface GroupCounts {
  apps: number;
  running: number;
  instances: number;
  /** Healthy instances, and the instances of apps with health checks (0: none is checked). */
  healthy: number;
  checked: number;
  /** How many apps are in each status, in `APP_STATUSES` order, statuses without apps left out. */
  statuses: [AppStatus, number][];
}

/** Sums a group's apps; `delayed` says whether an app's launches wait out a backoff delay. */
export function groupCounts<A extends AppCounts>(apps: readonly A[], delayed: (app: A) => boolean): GroupCounts {
  const counts: GroupCounts = { apps: apps.length, running: 0, instances: 0, healthy: 0, checked: 0, statuses: [] };
  const byStatus = new Map<AppStatus, number>();
  for (const app of apps) {
    counts.running += app.tasksRunning;
    counts.instances += app.instances;
    if ((app.healthChecks?.length ?? 0) > 0) {
      counts.healthy += app.tasksHealthy;
      counts.checked += app.instances;
    }
    const status = appStatus(app, delayed(app));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }
  counts.statuses = APP_STATUSES.flatMap((s) => (byStatus.has(s) ? [[s, byStatus.get(s) ?? 0] as [AppStatus, number]] : []));
  return counts;
}

/** Port ranges `[[31000, 32000]]` as `31000-32000`. */
export function portRanges(ranges: readonly (readonly number[])[] | undefined): string {
  if (!ranges || ranges.length === 0) return "–";
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(", ");
}

/** Attributes as `rack:r1; zone:a`. */
export function attributes(attrs: Record<string, string | number> | undefined): string {
  const entries = Object.entries(attrs ?? {});
  return entries.length === 0 ? "–" : entries.map(([k, v]) => `${k}:${v}`).join("; ");
}
