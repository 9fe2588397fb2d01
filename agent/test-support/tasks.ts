import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Status, TaskLaunch } from "../../protocol/index.ts";
import type { StatusUpdate } from "../../protocol/index.ts";
import { agentCgroupScope, detectIsolation, taskCgroup } from "../drivers/cgroups.ts";
import type { RunningTask } from "../drivers/driver.ts";
import type { ExecDriver } from "../drivers/exec.ts";
import { readProcStat } from "../drivers/proc.ts";
import { SANDBOXES_DIR } from "../sandbox.ts";
import type { MasterSession } from "./fake-master.ts";
import { waitFor } from "./fake-master.ts";
import type { TaskHost } from "../task-host.ts";

/** Helpers for tests that run real task processes. */

/** A launch as the master would send it, with the protocol's defaults filled in. */
export function launchOf(taskId: string, command: { shell: string } | { args: string[] }, extra: Partial<TaskLaunch> = {}): TaskLaunch {
  return TaskLaunch.parse({ taskId, name: "/test", command, resources: { cpus: 0.1, mem: 32, disk: 0, gpus: 0 }, ...extra });
}

/** True once `pid` has exited (gone, or a zombie nobody reaped yet). */
export function processGone(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat === undefined || stat.state === "Z" || stat.state === "X";
}

/** Waits until a file in `dir` exists and returns its trimmed text. */
export function fileText(dir: string, name: string, what = name): Promise<string> {
  const path = join(dir, name);
  return waitFor(() => existsSync(path) && readFileSync(path, "utf8").trim() !== "" && readFileSync(path, "utf8").trim(), what);
}

/**
 * The host pid of a task's process that knows itself as `nsPid` (its `$$` or `$!`). A task in
 * its own PID namespace (exec-namespaces.ts) sees other numbers than the host: its process is
 * the one whose innermost pid is `nsPid` and whose MESOS_SANDBOX is `sandbox`. Undefined when
 * no such process runs (any more).
 */
export function hostPid(sandbox: string, nsPid: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    try {
      const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^NSpid:\s+(.*)$/m)?.[1] ?? String(pid);
      const pids = line.trim().split(/\s+/).map(Number);
      if (pids.at(-1) !== nsPid) continue;
      if (readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`MESOS_SANDBOX=${sandbox}`)) return pid;
    } catch {
      // Gone while we looked.
    }
  }
  return undefined;
}

/** Waits for a task to write a pid (`echo $$ > file`) in its sandbox and returns it as the host sees it. */
export async function taskPid(sandbox: string, file: string): Promise<number | undefined> {
  return hostPid(sandbox, Number(await fileText(sandbox, file)));
}

/** True when `pid` is undefined (never found) or gone. */
export function pidGone(pid: number | undefined): boolean {
  return pid === undefined || processGone(pid);
}

/** Kills process groups a test leaves behind; the groups of tasks are led by their wrapper's pid. */
export class GroupReaper {
  private readonly pgids = new Set<number>();

  add(pgid: number | undefined): void {
    // 0 would signal the test runner's own group, 1 init: never a task's.
    if (pgid !== undefined && pgid > 1) this.pgids.add(pgid);
  }

  reap(): void {
    for (const pgid of this.pgids) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.pgids.clear();
  }
}

/**
 * Kills and removes a task's cgroup if the test left it behind: a closed driver leaves its tasks'
 * cgroups to the next agent process, and after a test there is none.
 */
export async function dropCgroup(exec: ExecDriver, task: RunningTask): Promise<void> {
  if (!("cgroups" in exec.isolation) || task.cgroup === undefined) return;
  // The move into the cgroup may still be under way: removing the cgroup under it would fail.
  await exec.placed(task);
  exec.isolation.cgroups.killAll(task.cgroup);
  exec.isolation.cgroups.remove(task.cgroup);
}

/** Drops the cgroups left by the tasks of an agent on `workDir` (one per sandbox), as `dropCgroup`. */
export function dropAgentCgroups(workDir: string): void {
  const scope = agentCgroupScope(workDir);
  const isolation = detectIsolation({ scope });
  const sandboxes = join(workDir, SANDBOXES_DIR);
  if (!("cgroups" in isolation) || !existsSync(sandboxes)) return;
  for (const name of readdirSync(sandboxes)) {
    // A sandbox's name is its task id made safe; for the short plain ids of tests it is the id.
    const cgroup = taskCgroup(scope, name);
    isolation.cgroups.killAll(cgroup);
    isolation.cgroups.remove(cgroup);
  }
}

/** Every status update the agent sent in a session, in order, with the frame each came in. */
export function statusFrames(session: MasterSession): StatusUpdate[][] {
  return session.frames
    .filter((frame) => frame.startsWith("{"))
    .map((frame) => Status.safeParse(JSON.parse(frame)))
    .flatMap((parsed) => (parsed.success ? [parsed.data.updates] : []));
}

/** `[taskId, state]` pairs of a list of updates, for compact assertions. */
export function states(updates: readonly StatusUpdate[]): [string, string][] {
  return updates.map((update) => [update.taskId, update.state]);
}

/**
 * A task host that runs nothing: tests of the agent's connection and frames pass it, with the
 * parts they care about (`handle`, `reports`) overridden.
 */
export function recordingTaskHost(overrides: Partial<TaskHost> = {}): TaskHost {
  return {
    ready: async () => {},
    attributes: () => ({}),
    fingerprints: () => [],
    connected: () => {},
    disconnected: () => {},
    close: async () => {},
    maxKillGraceMs: () => 0,
    stats: () => ({ tasksByState: {}, used: { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: 0 }, outboxDepth: 0 }),
    reports: () => [],
    logSource: () => undefined,
    servicePorts: () => undefined,
    handle: () => {},
    ...overrides,
  };
}
