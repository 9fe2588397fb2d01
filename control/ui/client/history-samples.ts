/**
 * The one place that knows the history service's JSON (`GET /c/:cluster/history/minute|hour`).
 * Its exact shape is settled on the history branch; this accepts the documented form
 * (`[{at, cpus: {used, total}, mem: {…}, disk: {…}, tasks: {…}, agents: {…}, deployments}]`),
 * the same list under `samples`, and flat `cpusUsed`/`cpusTotal` columns, so adapting to the
 * final shape is a change to this file only.
 */

export interface Sample {
  /** Seconds since the epoch (uPlot's time unit). */
  at: number;
  cpus: Pair;
  mem: Pair;
  disk: Pair;
  /** Running tasks, when the sample counts them. */
  tasksRunning: number | null;
}

export interface Pair {
  used: number;
  total: number;
}

type Loose = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function pair(s: Loose, name: "cpus" | "mem" | "disk"): Pair {
  const nested = s[name];
  if (nested && typeof nested === "object") {
    const n = nested as Loose;
    return { used: num(n.used) ?? 0, total: num(n.total) ?? 0 };
  }
  return { used: num(s[`${name}Used`]) ?? 0, total: num(s[`${name}Total`]) ?? 0 };
}

function seconds(at: unknown): number | null {
  if (typeof at === "number") return at > 1e11 ? at / 1000 : at;
  if (typeof at === "string") {
    const ms = Date.parse(at);
    return Number.isNaN(ms) ? null : ms / 1000;
  }
  return null;
}

function running(tasks: unknown): number | null {
  if (typeof tasks === "number") return tasks;
  if (!tasks || typeof tasks !== "object") return null;
  const t = tasks as Loose;
  return num(t.TASK_RUNNING) ?? num(t.running) ?? null;
}

/** The samples in a history response, oldest first; entries without a time are skipped. */
export function parseHistory(body: unknown): Sample[] {
  const list = Array.isArray(body) ? body : body && typeof body === "object" ? ((body as Loose).samples ?? (body as Loose).history) : undefined;
  if (!Array.isArray(list)) return [];
  const out: Sample[] = [];
  for (const raw of list) {
    if (!raw || typeof raw !== "object") continue;
    const s = raw as Loose;
    const at = seconds(s.at ?? s.timestamp ?? s.time);
    if (at === null) continue;
    out.push({ at, cpus: pair(s, "cpus"), mem: pair(s, "mem"), disk: pair(s, "disk"), tasksRunning: running(s.tasks) });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** Allocation in percent of what the agents offer, 0 when they offer nothing. */
export const allocation = (p: Pair): number => (p.total > 0 ? Math.round((p.used / p.total) * 1000) / 10 : 0);
