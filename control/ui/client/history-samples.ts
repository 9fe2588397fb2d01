/**
 * The one place that knows the history service's JSON (`GET /c/:cluster/history/minute|hour`):
 * `{resolution, intervalMs, samples: [{at, cpus: {used, total}, mem: {…}, disk: {…},
 * tasks: {TASK_RUNNING: n, …}, agents: {…}, deployments}]}`, with `at` in ms since the epoch.
 * Entries that do not have that shape are skipped rather than drawn wrong.
 */

export interface Sample {
  /** Seconds since the epoch (uPlot's time unit). */
  at: number;
  cpus: Pair;
  mem: Pair;
  disk: Pair;
  tasksRunning: number;
}

export interface Pair {
  used: number;
  total: number;
}

type Loose = Record<string, unknown>;

const isObject = (v: unknown): v is Loose => typeof v === "object" && v !== null;
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

function pair(v: unknown): Pair | undefined {
  return isObject(v) ? { used: num(v.used), total: num(v.total) } : undefined;
}

/** The samples of a history response, oldest first. */
export function parseHistory(body: unknown): Sample[] {
  const list = isObject(body) && Array.isArray(body.samples) ? body.samples : [];
  const out: Sample[] = [];
  for (const s of list) {
    if (!isObject(s) || typeof s.at !== "number") continue;
    const [cpus, mem, disk] = [pair(s.cpus), pair(s.mem), pair(s.disk)];
    if (!cpus || !mem || !disk) continue;
    out.push({ at: s.at / 1000, cpus, mem, disk, tasksRunning: isObject(s.tasks) ? num(s.tasks.TASK_RUNNING) : 0 });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** Allocation in percent of what the agents offer, 0 when they offer nothing. */
export const allocation = (p: Pair): number => (p.total > 0 ? Math.round((p.used / p.total) * 1000) / 10 : 0);
