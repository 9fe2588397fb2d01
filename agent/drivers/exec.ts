import { existsSync } from "node:fs";
import { dirname } from "node:path";
import type { TaskSpec } from "./task-spec.ts";
import { errorMessage } from "../log.ts";
import type { Logger } from "../log.ts";
import { runCheckCommand } from "./check-command.ts";
import type { CommandExit, DriverFingerprint, ExitStatus, Recovered, RunningTask, TaskDriver } from "./driver.ts";
import { detectIsolation } from "./cgroups.ts";
import type { CgroupOptions, Cgroups, Isolation } from "./cgroups.ts";
import { SHELL, commandArgv, resolveRunAs, taskEnvironment } from "./exec-command.ts";
import { fromWaitStatus, prepareSandbox, recordedStatus, releaseWrapper, spawnWrapped } from "./exec-wrapper.ts";
import type { Isolate, WrapperProcess } from "./exec-wrapper.ts";
import { detectNamespaces, enterTaskPrefix, taskNamespaces } from "./exec-namespaces.ts";
import type { NamespaceSupport } from "./exec-namespaces.ts";
import { DEFAULT_LOG_CAP_BYTES, STDERR_FILE, capTaskLogs, readTail } from "./log-files.ts";
import { isRunning, readProcStat, signalGroup } from "./proc.ts";
import { DEFAULT_TASK_USER, agentIsRoot, refreshUser } from "./users.ts";

/**
 * The exec driver: a task is a plain process tree (the Mesos containerizer without an image).
 *
 * Process layout. Each task runs under a small `/bin/sh` wrapper (exec-wrapper.ts) started with
 * setsid (Bun's `detached`), so the wrapper leads a new session and process group that holds the
 * task and everything it spawns. Stopping signals the whole group: SIGTERM, then SIGKILL after
 * the grace. When the wrapper ends, whatever is left in the group is SIGKILLed.
 *
 * Isolation (cgroups.ts). An agent running as root with cgroups also gives each task a cgroup
 * holding its `cpus` and `mem`, joined before the command runs. Once the grace of a stop is
 * over, and whenever a task ends, the whole cgroup is killed: a process that left the group with
 * setsid is taken too. A task the OOM killer struck is killed whole and reported with `oomKilled`.
 * Without root or cgroups, tasks are plain process groups and their limits are not enforced: the
 * cheap rlimits do not fit, as RLIMIT_AS and RLIMIT_DATA count reserved address space and thread
 * stacks, not memory used (node 22 crashes under `ulimit -v` below about 1 GB, and hangs under
 * `ulimit -d 32768`), so they would kill ordinary tasks rather than hold them to their `mem`.
 *
 * Namespaces (exec-namespaces.ts). Where the agent can create them, each task also gets its own
 * PID and mount namespaces: it sees only its own processes and, of the agent's work dir, only
 * its sandbox. The pid the agent tracks and signals stays in the agent's namespace.
 */

/** How much of stderr a failure message carries. */
export const STDERR_TAIL_BYTES = 1024;
/** The reason given for a task whose process ended unobserved and left no exit status. */
export const VANISHED = "task process vanished while the agent was down";

/** Tuning of the exec driver; the defaults are the production values. */
export interface ExecDriverOptions {
  log: Logger;
  /** Cap of each of stdout and stderr (see log-files.ts). */
  logCapBytes?: number;
  /** How often running tasks' logs are checked against the cap. */
  logCheckMs?: number;
  /** How often a recovered task (not our child) is checked for having ended. */
  pollMs?: number;
  /** The agent's DNS forwarder address for `DCX_DNS`, read at each start; undefined when it is off. */
  dnsAddress?: () => string | undefined;
  /**
   * Where task cgroups go (mount point, this agent's scope), used when the agent runs as root
   * and cgroups work; `false` runs tasks as plain process groups even then.
   */
  cgroups?: CgroupOptions | false;
  /** Who tasks without a `user` run as when the agent is root (`--task-user`); DEFAULT_TASK_USER by default. */
  taskUser?: string;
  /**
   * Whether tasks get their own PID and mount namespaces where the agent can create them
   * (exec-namespaces.ts); true by default, `false` turns them off.
   */
  namespaces?: boolean;
  /** What namespaced tasks must not see but for their sandbox: the agent's work dir; by default each sandbox's parent. */
  hiddenDir?: string;
}

/** A task whose end the driver is watching. */
interface Watched {
  task: RunningTask;
  /** Only for tasks this agent process spawned. */
  process?: WrapperProcess;
  /** Only for recovered tasks: checks /proc and settles `exited` once the task is gone. */
  poll?: () => void;
  /** Set once the task was found OOM-killed and its cgroup killed, so that happens once. */
  oomSeen?: boolean;
  /** Why the command never ran (its cgroup could not be joined); how the task ends then. */
  startFailure?: string;
}

/** The exec driver; see the module comment for the process layout and the wrapper. */
export class ExecDriver implements TaskDriver {
  readonly name = "exec";
  readonly startsInTurn = true;
  private readonly log: Logger;
  private readonly logCapBytes: number;
  private readonly logCheckMs: number;
  private readonly pollMs: number;
  private readonly dnsAddress: () => string | undefined;
  private readonly taskUser: string;
  /** Whether tasks get their own PID and mount namespaces, and why not; decided once. */
  readonly namespaces: NamespaceSupport;
  private readonly hiddenDir: string | undefined;
  /** How tasks are isolated, and why; decided once, when the driver is built. */
  readonly isolation: Isolation;
  private readonly cgroups: Cgroups | undefined;
  private readonly watched = new Map<string, Watched>();
  /** Each started task's start-time read and record (see `identify`): its signals wait for it. */
  private readonly identities = new WeakMap<RunningTask, Promise<boolean>>();
  /** Each started task's move into its cgroup and release (see `placed`). */
  private readonly placements = new WeakMap<RunningTask, Promise<void>>();
  /** Keyed by the handle given out, so `wait` works even after the task left `watched`. */
  private readonly exits = new WeakMap<RunningTask, Promise<ExitStatus>>();
  private timers: ReturnType<typeof setInterval>[] = [];
  /** Pending SIGKILL escalations; a closed driver leaves a kill under way to the next agent process. */
  private readonly graceTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Set by `close`: the tasks now belong to the next agent process. */
  private closed = false;

  constructor(options: ExecDriverOptions) {
    this.log = options.log;
    this.logCapBytes = options.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
    this.logCheckMs = options.logCheckMs ?? 2_000;
    this.pollMs = options.pollMs ?? 500;
    this.dnsAddress = options.dnsAddress ?? (() => undefined);
    this.taskUser = options.taskUser ?? DEFAULT_TASK_USER;
    // Looked up now, in the background: the first launch does not wait for `getent` either.
    if (agentIsRoot()) void refreshUser(this.taskUser);
    this.namespaces = options.namespaces === false ? { enabled: false, reason: "turned off" } : detectNamespaces();
    this.hiddenDir = options.hiddenDir;
    this.isolation = detectIsolation(options.cgroups ?? {});
    this.cgroups = "cgroups" in this.isolation ? this.isolation.cgroups : undefined;
    // The one line that tells the operator whether `cpus` and `mem` hold on this agent.
    const namespaces = this.namespaces.enabled ? "pid,mount" : `none (${this.namespaces.reason})`;
    const degraded = this.cgroups === undefined || !this.namespaces.enabled;
    this.log[degraded ? "warn" : "info"]("isolation", { mode: this.isolation.mode, reason: this.isolation.reason, namespaces });
  }

  fingerprint(): DriverFingerprint {
    if (!existsSync(SHELL)) return { name: this.name, available: false, reason: `${SHELL} is missing` };
    if (readProcStat(process.pid) === undefined) return { name: this.name, available: false, reason: "/proc is not mounted (Linux only)" };
    return { name: this.name, available: true, isolation: { mode: this.isolation.mode, reason: this.isolation.reason } };
  }

  async start(launch: TaskSpec, sandbox: string, _progress?: (message: string) => void, record?: (task: RunningTask) => void): Promise<RunningTask> {
    const runAs = resolveRunAs(launch, this.taskUser);
    if (runAs.ignored !== undefined) this.log.warn("task_user_ignored", { taskId: launch.taskId, user: launch.user, why: runAs.ignored });
    prepareSandbox(sandbox, runAs);
    const env = taskEnvironment(launch, sandbox, runAs, this.dnsAddress());
    const argv = commandArgv(launch, env.PATH ?? "", sandbox);
    // Named now, made once the wrapper waits (see placeAndRelease): its TASK_RUNNING does not wait for the mkdirs.
    const cgroup = this.cgroups?.name(launch.taskId);
    const child = spawnWrapped(argv, sandbox, env, runAs, this.isolate(sandbox));
    // The start time is read once the wrapper waits (see `identify`): 0 until then.
    const task: RunningTask = {
      taskId: launch.taskId,
      driver: this.name,
      pid: child.pid,
      pgid: child.pid,
      ...(cgroup === undefined ? {} : { cgroup }),
      startTime: 0,
      sandbox,
    };
    const watched: Watched = { task, process: child };
    const identified = this.identify(watched, child, record);
    this.identities.set(task, identified);
    // Not awaited: the process exists, which is what `start` promises; it runs the command once
    // it is recorded and in its cgroup, while its TASK_RUNNING is on its way (see placeAndRelease).
    const placed = this.placeAndRelease(watched, launch, child, identified);
    this.placements.set(task, placed);
    // The end is settled only once the move is, so the cgroup is never removed under a move.
    const exited = Promise.all([child.exited, placed]).then(() =>
      this.ended(task, watched.startFailure === undefined ? fromWaitStatus(child) : unknown(watched.startFailure)),
    );
    this.track(watched, exited);
    return task;
  }

  /**
   * Reads the wrapper's start time, then hands the complete handle to `record` (the host persists
   * it); true when both were done. Runs after the launch's turn, which sends its TASK_RUNNING: read
   * right after the spawn, /proc/<pid>/stat waits for the wrapper's exec to get through its loader
   * (0.2-0.4 ms on every launch), and the wrapper cannot end before its go but by a signal, after
   * which there is nothing to record. Until then `signal` sends nothing: a pid is never signalled
   * without the start time that tells it from a reused one, nor recorded without it.
   */
  private async identify(watched: Watched, child: WrapperProcess, record: ((task: RunningTask) => void) | undefined): Promise<boolean> {
    // Two hops: past the launch's turn, then past the outbox's send of the TASK_RUNNING that turn
    // wrote (scheduled after this one; an immediate queued by an immediate runs a loop later).
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const stat = readProcStat(child.pid);
    if (stat === undefined || stat.state === "Z" || child.exitCode !== null || child.signalCode !== null) return false;
    watched.task.startTime = stat.startTime;
    try {
      record?.(watched.task);
      return true;
    } catch (error) {
      watched.startFailure = `the agent could not record the task: ${errorMessage(error)}`;
      this.log.warn("task_record_failed", { taskId: watched.task.taskId, error: errorMessage(error) });
      return false;
    }
  }

  /**
   * Resolves once the task started by `start` was let run its command, or it is known that it
   * never will (its cgroup could not be made or joined); at once for a task this driver did not start.
   */
  placed(task: RunningTask): Promise<void> {
    return this.placements.get(task) ?? Promise.resolve();
  }

  wait(task: RunningTask): Promise<ExitStatus> {
    return this.exits.get(task) ?? Promise.reject(new Error(`the exec driver is not watching task ${task.taskId}`));
  }

  async stop(task: RunningTask, graceMs: number): Promise<void> {
    const exited = this.exits.get(task);
    if (exited === undefined || !this.watched.has(task.taskId)) return;
    await this.identities.get(task);
    this.signal(task, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"grace over">((resolve) => {
      timer = setTimeout(() => resolve("grace over"), graceMs);
      this.graceTimers.add(timer);
    });
    const first = await Promise.race([exited, graceOver]);
    clearTimeout(timer);
    if (timer !== undefined) this.graceTimers.delete(timer);
    if (first === "grace over") this.killAll(task);
    await exited;
  }

  async runCommand(task: RunningTask, launch: TaskSpec, command: string, timeoutMs: number): Promise<CommandExit> {
    const runAs = resolveRunAs(launch, this.taskUser);
    const env = taskEnvironment(launch, task.sandbox, runAs, this.dnsAddress());
    // Inside the task's namespaces when it has them, so the check sees what the task sees; never
    // beside a task that is still entering them.
    const deadline = Date.now() + timeoutMs;
    let where = taskNamespaces(task.pid);
    while (where === "pending" && Date.now() < deadline) {
      await Bun.sleep(10);
      where = taskNamespaces(task.pid);
    }
    if (where === "pending") return { code: null, timedOut: true, output: "the task was still entering its namespaces" };
    if (where === "none") return runCheckCommand(command, { cwd: task.sandbox, env, runAs, timeoutMs });
    const left = Math.max(1, deadline - Date.now());
    return runCheckCommand(command, { cwd: task.sandbox, env, runAs: { user: runAs.user }, timeoutMs: left, prefix: enterTaskPrefix(where, runAs) });
  }

  recover(record: RunningTask): Recovered {
    if (isRunning(record.pid, record.startTime)) {
      const task = { ...record };
      let settle: (status: ExitStatus) => void = () => {};
      const exited = new Promise<ExitStatus>((resolve) => (settle = resolve));
      const poll = (): void => {
        if (!isRunning(task.pid, task.startTime)) settle(this.ended(task, unknown("the task ended without recording an exit status (its wrapper was killed)")));
      };
      this.track({ task, poll }, exited);
      return { alive: true, task };
    }
    // Gone, a zombie, or the pid now belongs to another process (then `ended` sends no signal).
    return { alive: false, status: this.ended(record, unknown(VANISHED)) };
  }

  close(): void {
    this.closed = true;
    this.stopTimers();
    for (const timer of this.graceTimers) clearTimeout(timer);
    this.graceTimers.clear();
    // Our children must not keep the agent process alive: they are meant to outlive it.
    for (const { process: child } of this.watched.values()) child?.unref();
    this.watched.clear();
  }

  /** How a task in `sandbox` is spawned in namespaces; undefined without them. */
  private isolate(sandbox: string): Isolate | undefined {
    if (!this.namespaces.enabled) return undefined;
    // The tmpfs must cover a parent of the sandbox, or binding the sandbox back would create it elsewhere.
    const hidden = this.hiddenDir !== undefined && sandbox.startsWith(`${this.hiddenDir}/`) ? this.hiddenDir : dirname(sandbox);
    return { hidden };
  }

  /**
   * Creates the task's cgroup with the launch's limits, moves the waiting wrapper into it, then
   * lets it run the command, so the command is held to its limits from its first instruction.
   * All of it runs after `start` has returned, once the launch's turn is over (its TASK_RUNNING
   * is sent at the end of that turn): the mkdirs and limit writes cost a launch 0.2-0.4 ms, and
   * the move is asynchronous because it can take a while (on cgroup v1 the kernel makes the
   * first move after an idle spell wait for an RCU grace period, about 5-15 ms here). If either
   * fails, the wrapper gets end of input without a go and exits without running the command; the
   * task then ends with the reason (`ended`), after releasing its cgroup.
   */
  private async placeAndRelease(watched: Watched, launch: TaskSpec, child: WrapperProcess, identified: Promise<boolean>): Promise<void> {
    const cgroup = watched.task.cgroup;
    if (!(await identified)) {
      // Gone already, or not recorded: it must not run the command.
      void child.stdin.end();
      return;
    }
    if (this.cgroups !== undefined && cgroup !== undefined) {
      const failure = await this.place(this.cgroups, launch, cgroup, child.pid);
      // A wrapper stopped meanwhile cannot be moved: that is no failure to report.
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (failure !== undefined) {
        watched.startFailure = failure;
        this.log.warn("task_cgroup_failed", { taskId: watched.task.taskId, cgroup, error: failure });
        void child.stdin.end();
        return;
      }
    }
    try {
      releaseWrapper(child);
    } catch (error) {
      this.log.warn("task_release_failed", { taskId: watched.task.taskId, error: errorMessage(error) });
    }
  }

  /** Creates the cgroup and moves `pid` into it; the reason when either failed. */
  private async place(cgroups: Cgroups, launch: TaskSpec, cgroup: string, pid: number): Promise<string | undefined> {
    try {
      cgroups.create(launch.taskId, { cpus: launch.resources.cpus, memMb: launch.resources.mem });
    } catch (error) {
      return `could not create the task's cgroup: ${errorMessage(error)}`;
    }
    try {
      await cgroups.join(cgroup, pid);
      return undefined;
    } catch (error) {
      return `could not put the task in its cgroup: ${errorMessage(error)}`;
    }
  }

  /**
   * Kills whatever is left of the task's cgroup, reads whether the OOM killer struck (before the
   * removal takes the counter with it) and removes the cgroup. Returns whether it was OOM-killed.
   */
  private releaseCgroup(taskId: string, cgroup: string | undefined): boolean {
    if (this.cgroups === undefined || cgroup === undefined) return false;
    let oomKilled = false;
    try {
      oomKilled = this.cgroups.oomKilled(cgroup);
      if (!this.cgroups.killAll(cgroup)) throw new Error("processes are still in it after SIGKILL");
      this.cgroups.remove(cgroup);
    } catch (error) {
      this.log.warn("task_cgroup_left", { taskId, cgroup, error: errorMessage(error) });
    }
    return oomKilled;
  }

  /**
   * Signals the task's process group; nothing for a task this driver started whose start time it
   * has not read (see `identify`): that wrapper never ran its command, and its pid may be reused.
   */
  private signal(task: RunningTask, signal: NodeJS.Signals): void {
    if (task.startTime === 0 && this.identities.has(task)) return;
    signalGroup(task.pid, task.pgid, task.startTime, signal);
  }

  /** SIGKILL to the task's group and, with a cgroup, to everything in it (daemons included). */
  private killAll(task: RunningTask): void {
    this.signal(task, "SIGKILL");
    if (this.cgroups === undefined || task.cgroup === undefined) return;
    try {
      this.cgroups.killAll(task.cgroup);
    } catch (error) {
      this.log.warn("task_cgroup_kill_failed", { taskId: task.taskId, cgroup: task.cgroup, error: errorMessage(error) });
    }
  }

  /**
   * A task the OOM killer struck is killed whole, as Mesos does: the kernel killed one process,
   * and what is left (say, the shell that ran it) must not carry on as if it had its memory.
   */
  private checkMemory(entry: Watched): void {
    const { cgroups } = this;
    const { task } = entry;
    if (cgroups === undefined || task.cgroup === undefined || entry.oomSeen === true) return;
    try {
      if (!cgroups.oomKilled(task.cgroup)) return;
    } catch (error) {
      this.log.warn("task_cgroup_unreadable", { taskId: task.taskId, cgroup: task.cgroup, error: errorMessage(error) });
      return;
    }
    entry.oomSeen = true;
    this.log.warn("task_memory_exceeded", { taskId: task.taskId, cgroup: task.cgroup });
    this.killAll(task);
  }

  /** Watches a task until `exited` settles, with the timers that need to run meanwhile. */
  private track(watched: Watched, exited: Promise<ExitStatus>): void {
    const { taskId } = watched.task;
    this.watched.set(taskId, watched);
    this.exits.set(watched.task, exited);
    void exited.then(() => {
      if (this.watched.get(taskId) === watched) this.watched.delete(taskId);
      if (this.watched.size === 0) this.stopTimers();
    });
    if (this.timers.length === 0) {
      const every = (ms: number, run: () => void) => this.timers.push(setInterval(run, ms).unref());
      every(this.logCheckMs, () => this.capLogs());
      every(this.pollMs, () =>
        this.watched.forEach((entry) => {
          this.checkMemory(entry);
          entry.poll?.();
        }),
      );
    }
  }

  private stopTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  private capLogs(): void {
    for (const { task } of this.watched.values()) capTaskLogs(task, this.logCapBytes, this.log);
  }

  /**
   * Settles an ended task: kills what is left of its group and cgroup (removing the cgroup),
   * caps its logs a last time and works out how it ended, from the wrapper's status file or,
   * without one, from `fallback`, and whether the OOM killer struck.
   */
  private ended(task: RunningTask, fallback: (stderrTail: string) => ExitStatus): ExitStatus {
    this.signal(task, "SIGKILL");
    // A closed driver leaves the cgroup, and its OOM count, to the next agent process's `recover`.
    const oomKilled = this.closed ? false : this.releaseCgroup(task.taskId, task.cgroup);
    capTaskLogs(task, this.logCapBytes, this.log);
    const stderrTail = readTail(task.sandbox, STDERR_FILE, STDERR_TAIL_BYTES);
    const status = recordedStatus(task.sandbox, stderrTail, fallback);
    // The OOM killer may have taken the wrapper itself, and with it the status file: it wins anyway.
    return oomKilled ? { ...status, oomKilled } : status;
  }
}

function unknown(reason: string): (stderrTail: string) => ExitStatus {
  return (stderrTail) => ({ kind: "unknown", reason, stderrTail });
}
