import type { TaskSpec } from "./task-spec.ts";

/**
 * The one interface every task driver (exec today, docker later) implements, after Nomad's
 * drivers: start a task, wait for it, stop it, re-attach to it after an agent restart, and say
 * whether this machine can run it. The task host owns task state and status updates; a driver
 * only deals with processes (or containers) and never talks to the master.
 */

/**
 * A handle on a started task. Every field is plain data the host persists in its task record,
 * so that a later agent process can hand it back to `recover`.
 */
export interface RunningTask {
  taskId: string;
  /** Name of the driver that started it (`exec`, `docker`). */
  driver: string;
  /** The task's top process; for exec, the wrapper that records the exit status. */
  pid: number;
  /** Its process group: signals go to the whole group, so nothing it spawned is left behind. */
  pgid: number;
  /**
   * The task's cgroup, relative to each hierarchy's root (`dcx/<scope>/task-<id>`, see
   * cgroups.ts); absent when the task runs as a plain process group.
   */
  cgroup?: string;
  /**
   * Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22), 0 when unknown.
   * A pid whose start time differs is another process that reused the number.
   */
  startTime: number;
  sandbox: string;
  /** The docker driver's container id. */
  containerId?: string;
}

/**
 * How a task's process ended. `oomKilled` is set when the kernel's OOM killer killed a process of
 * the task because it went over its memory limit (only a task in a cgroup can tell); the task
 * then counts as failed whatever its exit.
 */
export type ExitStatus = (
  | { kind: "exited"; code: number }
  | { kind: "signaled"; signal: string }
  /** The process is gone and left no exit status; `reason` says why nothing is known. */
  | { kind: "unknown"; reason: string }
) & { stderrTail: string; oomKilled?: true };

/** What `recover` found of a task started by an earlier agent process. */
export type Recovered =
  /** Still running: `wait` and `stop` now work on `task`. */
  | { alive: true; task: RunningTask }
  /** Ended while the agent was away (or the pid now belongs to another process). */
  | { alive: false; status: ExitStatus };

/** Whether this machine can run the driver's tasks, reported by `fingerprint`. */
export interface DriverFingerprint {
  name: string;
  available: boolean;
  /** Why it is not available. */
  reason?: string;
  /** Agent attributes the driver adds to `register` while available, e.g. `docker: "28.2.2"`. */
  attributes?: Record<string, string>;
  /** How the driver isolates its tasks (exec: cgroups or plain process groups), for diagnostics. */
  isolation?: { mode: string; reason: string };
}

/** How a command run beside a task ended (a COMMAND health check). */
export interface CommandExit {
  /** The exit code; null when the command was killed (or abandoned) at its timeout. */
  code: number | null;
  timedOut: boolean;
  /** The end of what it printed: stderr, or stdout when stderr is empty. */
  output: string;
}

/** A launch the driver refused to start; the message becomes the TASK_FAILED message. */
export class TaskStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaskStartError";
  }
}

/**
 * A task driver. Processes must outlive the agent: nothing here may tie a task's life to the
 * agent process (pipes, parent-death signals), since tasks keep running across agent restarts.
 */
export interface TaskDriver {
  readonly name: string;
  /**
   * Whether `start` does its work within the launch's turn (nothing to report while STARTING):
   * the host then writes the task's record with its TASK_RUNNING in one commit.
   */
  readonly startsInTurn?: boolean;
  fingerprint(): DriverFingerprint;
  /**
   * For a driver that must ask something outside the agent (the docker driver asks its daemon):
   * called once at agent start, before recovery; `fingerprint` says the result from then on.
   */
  probe?(): Promise<DriverFingerprint>;
  /**
   * For a driver whose tasks outlive every record of them (containers belong to dockerd): removes
   * this agent's tasks that `known` (live task ids) does not list, once recovery is done.
   */
  removeStrays?(known: ReadonlySet<string>): Promise<number>;
  /**
   * Starts `launch` in `sandbox` and resolves once its process exists. Rejects with a
   * TaskStartError (user unknown, executable missing, spawn failed) when nothing was started.
   * `progress` reports a slow step (e.g. "pulling image x") while the task is STARTING.
   * `record` persists the handle (the host's task record) and is called once it is complete,
   * before the launch's command may run: the docker driver before `start` resolves, the exec
   * driver after, once it has read the wrapper's start time (its command waits for that). A
   * throwing `record` keeps an exec task from running its command; it then ends with the reason.
   */
  start(launch: TaskSpec, sandbox: string, progress?: (message: string) => void, record?: (task: RunningTask) => void): Promise<RunningTask>;
  /** Resolves once the task's process has ended, with how it ended. Safe to call more than once. */
  wait(task: RunningTask): Promise<ExitStatus>;
  /**
   * SIGTERM to the whole task, SIGKILL after `graceMs`; resolves once the task has ended.
   * A task that already ended resolves at once.
   */
  stop(task: RunningTask, graceMs: number): Promise<void>;
  /**
   * Runs `/bin/sh -c command` beside a running task as the task itself would run it: with its
   * environment and user, in its sandbox, or inside its container. Resolves at exit or at
   * `timeoutMs`; rejects only when the command could not be started at all.
   */
  runCommand(task: RunningTask, launch: TaskSpec, command: string, timeoutMs: number): Promise<CommandExit>;
  /** Re-attaches to a task started by an earlier agent process, from its persisted handle. */
  recover(record: RunningTask): Recovered | Promise<Recovered>;
  /** Forgets every task and stops the driver's timers, leaving the processes running (agent shutdown). */
  close(): void;
}
