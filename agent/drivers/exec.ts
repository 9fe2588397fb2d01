import { chownSync, closeSync, constants, existsSync, fchownSync, mkdirSync, openSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { TaskLaunch } from "../../protocol/index.ts";
import { errorMessage } from "../log.ts";
import type { Logger } from "../log.ts";
import { runCheckCommand } from "./check-command.ts";
import { TaskStartError } from "./driver.ts";
import type { CommandExit, DriverFingerprint, ExitStatus, Recovered, RunningTask, TaskDriver } from "./driver.ts";
import { SHELL, commandArgv, resolveRunAs, taskEnvironment } from "./exec-command.ts";
import type { RunAs } from "./exec-command.ts";
import { DEFAULT_LOG_CAP_BYTES, STDERR_FILE, STDOUT_FILE, capSandboxLogs, readTail } from "./log-files.ts";
import { isRunning, readProcStat, signalGroup, signalName } from "./proc.ts";

/**
 * The exec driver: a task is a plain process tree (the Mesos containerizer without an image).
 *
 * Process layout. Each task runs under a small `/bin/sh` wrapper started with setsid (Bun's
 * `detached`), so the wrapper leads a new session and process group that holds the task and
 * everything it spawns. Stopping signals the whole group: SIGTERM, then SIGKILL after the grace.
 * When the wrapper ends, whatever is left in the group is SIGKILLed, so a task never leaves
 * processes behind (short of one that calls setsid itself; cgroups, a later issue, close that gap).
 *
 * Why a wrapper. The agent may restart while tasks run; the new agent is not their parent and
 * cannot wait() for them. The wrapper waits for the command and writes its status (`$?`) to
 * EXIT_STATUS_FILE in the sandbox, which any later agent can read. It traps TERM, INT, HUP and
 * QUIT with a no-op so a signal sent to the group does not kill it before it records the status;
 * a caught signal is reset to its default in the command it runs (exec resets handlers, unlike
 * ignored signals), so the command still dies of SIGTERM as usual, and SIGKILL takes the wrapper
 * too. Like any shell, the wrapper reports a command killed by signal N as status 128+N, so a
 * status above 128 is read as that signal: an explicit `exit 143` also reads as SIGTERM.
 */

/** The wrapper: `sh -c WRAPPER dcx-task <status file> <argv…>`. */
const WRAPPER = 'trap : TERM INT HUP QUIT; f=$1; shift; "$@"; s=$?; echo "$s" > "$f"; exit "$s"';
/** Written by the wrapper in the sandbox; hidden so it does not clutter the task's own files. */
export const EXIT_STATUS_FILE = ".dcx-exit-status";
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
}

/** A task whose end the driver is watching. */
interface Watched {
  task: RunningTask;
  /** Only for tasks this agent process spawned. */
  process?: Subprocess;
  /** Only for recovered tasks: checks /proc and settles `exited` once the task is gone. */
  poll?: () => void;
}

/** The exec driver; see the module comment for the process layout and the wrapper. */
export class ExecDriver implements TaskDriver {
  readonly name = "exec";
  private readonly log: Logger;
  private readonly logCapBytes: number;
  private readonly logCheckMs: number;
  private readonly pollMs: number;
  private readonly dnsAddress: () => string | undefined;
  private readonly watched = new Map<string, Watched>();
  /** Keyed by the handle given out, so `wait` works even after the task left `watched`. */
  private readonly exits = new WeakMap<RunningTask, Promise<ExitStatus>>();
  private timers: ReturnType<typeof setInterval>[] = [];
  /** Pending SIGKILL escalations; a closed driver leaves a kill under way to the next agent process. */
  private readonly graceTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: ExecDriverOptions) {
    this.log = options.log;
    this.logCapBytes = options.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
    this.logCheckMs = options.logCheckMs ?? 2_000;
    this.pollMs = options.pollMs ?? 500;
    this.dnsAddress = options.dnsAddress ?? (() => undefined);
  }

  fingerprint(): DriverFingerprint {
    if (!existsSync(SHELL)) return { name: this.name, available: false, reason: `${SHELL} is missing` };
    if (readProcStat(process.pid) === undefined) return { name: this.name, available: false, reason: "/proc is not mounted (Linux only)" };
    return { name: this.name, available: true };
  }

  async start(launch: TaskLaunch, sandbox: string): Promise<RunningTask> {
    const runAs = resolveRunAs(launch);
    if (runAs.ignored !== undefined) this.log.warn("task_user_ignored", { taskId: launch.taskId, user: launch.user, why: runAs.ignored });
    prepareSandbox(sandbox, runAs);
    const env = taskEnvironment(launch, sandbox, runAs, this.dnsAddress());
    const argv = commandArgv(launch, env.PATH ?? "", sandbox);
    const child = spawnWrapped(argv, sandbox, env, runAs);
    // Read now, while the wrapper cannot have been reaped yet (that happens on a later turn of
    // the event loop): even a task that exits at once is still a zombie with its start time.
    const task: RunningTask = { taskId: launch.taskId, driver: this.name, pid: child.pid, pgid: child.pid, startTime: readProcStat(child.pid)?.startTime ?? 0, sandbox };
    const exited = child.exited.then(() => this.ended(task, fromWaitStatus(child)));
    this.track({ task, process: child }, exited);
    return task;
  }

  wait(task: RunningTask): Promise<ExitStatus> {
    return this.exits.get(task) ?? Promise.reject(new Error(`the exec driver is not watching task ${task.taskId}`));
  }

  async stop(task: RunningTask, graceMs: number): Promise<void> {
    const exited = this.exits.get(task);
    if (exited === undefined || !this.watched.has(task.taskId)) return;
    signalGroup(task.pid, task.pgid, task.startTime, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"grace over">((resolve) => {
      timer = setTimeout(() => resolve("grace over"), graceMs);
      this.graceTimers.add(timer);
    });
    const first = await Promise.race([exited, graceOver]);
    clearTimeout(timer);
    if (timer !== undefined) this.graceTimers.delete(timer);
    if (first === "grace over") signalGroup(task.pid, task.pgid, task.startTime, "SIGKILL");
    await exited;
  }

  runCommand(task: RunningTask, launch: TaskLaunch, command: string, timeoutMs: number): Promise<CommandExit> {
    const runAs = resolveRunAs(launch);
    const env = taskEnvironment(launch, task.sandbox, runAs, this.dnsAddress());
    return runCheckCommand(command, { cwd: task.sandbox, env, runAs, timeoutMs });
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
    this.stopTimers();
    for (const timer of this.graceTimers) clearTimeout(timer);
    this.graceTimers.clear();
    // Our children must not keep the agent process alive: they are meant to outlive it.
    for (const { process: child } of this.watched.values()) child?.unref();
    this.watched.clear();
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
      every(this.pollMs, () => this.watched.forEach((entry) => entry.poll?.()));
    }
  }

  private stopTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  private capLogs(): void {
    for (const { task } of this.watched.values()) {
      try {
        capSandboxLogs(task.sandbox, this.logCapBytes);
      } catch (error) {
        this.log.warn("task_log_cap_failed", { taskId: task.taskId, error: errorMessage(error) });
      }
    }
  }

  /**
   * Settles an ended task: kills what is left of its group, caps its logs a last time and
   * works out how it ended, from the wrapper's status file or, without one, from `fallback`.
   */
  private ended(task: RunningTask, fallback: (stderrTail: string) => ExitStatus): ExitStatus {
    signalGroup(task.pid, task.pgid, task.startTime, "SIGKILL");
    try {
      capSandboxLogs(task.sandbox, this.logCapBytes);
    } catch (error) {
      this.log.warn("task_log_cap_failed", { taskId: task.taskId, error: errorMessage(error) });
    }
    const stderrTail = readTail(task.sandbox, STDERR_FILE, STDERR_TAIL_BYTES);
    const recorded = readExitStatus(join(task.sandbox, EXIT_STATUS_FILE));
    if (recorded === undefined) return fallback(stderrTail);
    const signal = recorded > 128 ? signalName(recorded - 128) : undefined;
    return signal === undefined ? { kind: "exited", code: recorded, stderrTail } : { kind: "signaled", signal, stderrTail };
  }
}

function unknown(reason: string): (stderrTail: string) => ExitStatus {
  return (stderrTail) => ({ kind: "unknown", reason, stderrTail });
}

/** The wrapper's own wait status: used when it ended without writing the status file. */
function fromWaitStatus(child: Subprocess): (stderrTail: string) => ExitStatus {
  return (stderrTail) => {
    if (child.signalCode !== null) return { kind: "signaled", signal: String(child.signalCode), stderrTail };
    return { kind: "exited", code: child.exitCode ?? -1, stderrTail };
  };
}

/**
 * Creates the sandbox, owned by the task's user so the task (and the wrapper writing its exit
 * status) can write there. The agent itself opens the log files, so they exist even if the
 * command never writes.
 */
function prepareSandbox(sandbox: string, runAs: RunAs): void {
  mkdirSync(sandbox, { recursive: true, mode: 0o750 });
  rmSync(join(sandbox, EXIT_STATUS_FILE), { force: true });
  if (runAs.switchTo !== undefined) chownSync(sandbox, runAs.switchTo.uid, runAs.switchTo.gid);
}

/**
 * Spawns the wrapper in a new session, stdout and stderr appended to the sandbox files.
 * Memory/CPU limits (a later issue) plug in here: create a cgroup for the task and pass it as
 * Bun.spawn's `cgroup` option, so the limits hold from the first instruction; `cgroup.kill` can
 * then replace the process-group signals.
 */
function spawnWrapped(argv: string[], sandbox: string, env: Record<string, string>, runAs: RunAs): Subprocess {
  const stdout = openSync(join(sandbox, STDOUT_FILE), "a", 0o640);
  const stderr = openSync(join(sandbox, STDERR_FILE), "a", 0o640);
  try {
    if (runAs.switchTo !== undefined) {
      for (const fd of [stdout, stderr]) fchownSync(fd, runAs.switchTo.uid, runAs.switchTo.gid);
    }
    // The status file is named relative to the sandbox, the wrapper's working directory, so the
    // wrapper reaches it even as a user who could not traverse the sandbox's parents.
    return Bun.spawn([SHELL, "-c", WRAPPER, "dcx-task", EXIT_STATUS_FILE, ...argv], {
      cwd: sandbox,
      env,
      stdin: "ignore",
      stdout,
      stderr,
      detached: true,
      ...(runAs.switchTo ?? {}),
    });
  } catch (error) {
    throw new TaskStartError(`could not start the task: ${errorMessage(error)}`);
  } finally {
    // The child holds its own copies; the agent must not keep the files open.
    closeSync(stdout);
    closeSync(stderr);
  }
}

/** The wrapper's recorded status, 0-255; undefined when absent or garbled. */
function readExitStatus(path: string): number | undefined {
  let fd: number;
  try {
    // The sandbox belongs to the task's user: never follow a link it may have planted there.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.alloc(16);
    const text = buffer.subarray(0, readSync(fd, buffer, 0, 16, 0)).toString().trim();
    return /^\d{1,3}$/.test(text) && Number(text) <= 255 ? Number(text) : undefined;
  } finally {
    closeSync(fd);
  }
}
