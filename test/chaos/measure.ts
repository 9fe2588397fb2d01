import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { TestCluster } from "../e2e/cluster.ts";

/**
 * What the fault suite counts for each fault: tasks lost and duplicated once the cluster has
 * settled, acknowledged writes that are gone, 5xx answers, and the time to recover.
 */
export interface FaultResult {
  fault: string;
  tasksLost: number;
  tasksDuplicated: number;
  ackedWritesLost: number;
  serverErrors: number;
  /** From the end of the fault (restart, heal) to a settled cluster; null when it never settled. */
  recoveryMs: number | null;
  /** What happened, for the reader of the table. */
  notes: string;
}

/**
 * Calls the API during a fault and keeps the books: every 5xx answer counts (a refused
 * connection while the control plane is down is no answer and does not), and every write the
 * server acknowledged is remembered to be checked later.
 */
export class Ledger {
  serverErrors = 0;
  readonly ackedApps: string[] = [];
  private writes = 0;

  private readonly cluster: TestCluster;

  constructor(cluster: TestCluster) {
    this.cluster = cluster;
  }

  /** One call; undefined when nothing answered (connection refused or reset). */
  async call(method: string, path: string, body?: unknown): Promise<Response | undefined> {
    let res: Response;
    try {
      res = await this.cluster.fetch(method, path, body);
    } catch {
      return undefined;
    }
    if (res.status >= 500) this.serverErrors++;
    return res;
  }

  /** Creates a tiny app (no instances, so it takes no resources); remembers it if acknowledged. */
  async write(prefix: string): Promise<void> {
    const id = `/chaos-writes/${prefix}-${this.writes++}`;
    const res = await this.call("POST", `/c/${this.cluster.clusterId}/v2/apps`, { id, cmd: "sleep 1", cpus: 0.01, mem: 32, instances: 0 });
    if (res?.status === 201) this.ackedApps.push(id);
    await res?.body?.cancel();
  }

  /** Writes every `everyMs` until `stop` resolves. */
  async writeUntil(prefix: string, stop: Promise<unknown>, everyMs = 150): Promise<void> {
    let done = false;
    void stop.then(() => (done = true));
    while (!done) {
      await this.write(prefix);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }

  /** Acknowledged apps that the control plane no longer has. */
  async lostWrites(): Promise<number> {
    const res = await this.call("GET", `/c/${this.cluster.clusterId}/v2/apps`);
    if (res?.status !== 200) throw new Error(`cannot list apps to check acknowledged writes: ${res?.status ?? "no answer"}`);
    const known = new Set(((await res.json()) as { apps: { id: string }[] }).apps.map((a) => a.id));
    return this.ackedApps.filter((id) => !known.has(id)).length;
  }
}

/** Processes named `comm` whose working directory lies under `dir`: the tasks of one test cluster. */
export function processesUnder(dir: string, comm: string): number {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== comm) continue;
      const state = /\) (\S)/.exec(readFileSync(`/proc/${entry}/stat`, "utf8"))?.[1];
      if (state === "Z" || state === "X") continue;
      if (readlinkSync(`/proc/${entry}/cwd`).startsWith(dir)) count++;
    } catch {
      // The process ended while we looked, or is not ours to inspect.
    }
  }
  return count;
}

interface AppView {
  app?: { instances: number; tasksRunning: number; tasksStaged: number; tasks?: { state: string }[] };
}

/** The app's instances and its RUNNING tasks as the control plane reports them; undefined when it does not answer. */
export async function appCounts(
  ledger: Ledger,
  cluster: TestCluster,
  appId: string,
): Promise<{ instances: number; running: number; live: number } | undefined> {
  const res = await ledger.call("GET", `/c/${cluster.clusterId}/v2/apps${appId}?embed=app.tasks`);
  if (res?.status !== 200) return undefined;
  const { app } = (await res.json()) as AppView;
  if (app === undefined) return undefined;
  return { instances: app.instances, running: app.tasks?.filter((t) => t.state === "TASK_RUNNING").length ?? app.tasksRunning, live: app.tasks?.length ?? 0 };
}

/**
 * Waits until the app has exactly its instances RUNNING, as many task processes as instances on
 * the machine (`count`), and nothing else live; returns the time it took, or null at the deadline.
 */
export async function settle(
  ledger: Ledger,
  cluster: TestCluster,
  appId: string,
  count: () => number,
  deadlineMs = 60_000,
): Promise<{ ms: number | null; lost: number; duplicated: number }> {
  const started = Date.now();
  let last = { lost: 0, duplicated: 0 };
  while (Date.now() - started < deadlineMs) {
    const counts = await appCounts(ledger, cluster, appId);
    const processes = count();
    if (counts !== undefined) {
      last = {
        lost: Math.max(0, counts.instances - Math.min(counts.running, processes)),
        duplicated: Math.max(0, processes - counts.instances, counts.running - counts.instances),
      };
      const settled = counts.running === counts.instances && counts.live === counts.instances && processes === counts.instances;
      if (settled && (await agentsActive(ledger, cluster))) return { ms: Date.now() - started, lost: 0, duplicated: 0 };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { ms: null, ...last };
}

/** Whether every agent of the cluster is connected: a cluster with an agent still away has not recovered. */
async function agentsActive(ledger: Ledger, cluster: TestCluster): Promise<boolean> {
  const res = await ledger.call("GET", `/c/${cluster.clusterId}/agents`);
  if (res?.status !== 200) return false;
  const { agents } = (await res.json()) as { agents: { state: string }[] };
  return agents.length > 0 && agents.every((a) => a.state === "active");
}
