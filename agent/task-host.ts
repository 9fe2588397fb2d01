import type { Database } from "bun:sqlite";
import { DNS_DRAIN_MS, isTerminal } from "../protocol/index.ts";
import type {
  AgentMessage,
  MasterMessage,
  ProxyCredit,
  ProxyEnd,
  ProxyOpen,
  ProxyReset,
  RefusedLaunch,
  Register,
  TaskLaunch,
  TaskState,
} from "../protocol/index.ts";
import { openAgentDb } from "./agent-db.ts";
import { agentCgroupScope } from "./drivers/cgroups.ts";
import { TaskStartError } from "./drivers/driver.ts";
import type { TaskSpec } from "./drivers/task-spec.ts";
import type { DriverFingerprint, RunningTask, TaskDriver } from "./drivers/driver.ts";
import { DEFAULT_DOCKER_SOCKET } from "./drivers/docker-api.ts";
import { DockerDriver } from "./drivers/docker.ts";
import type { DockerDriverOptions } from "./drivers/docker.ts";
import { ExecDriver } from "./drivers/exec.ts";
import type { ExecDriverOptions } from "./drivers/exec.ts";
import { CheckRunner } from "./health/task-checks.ts";
import type { LogSource } from "./log-service.ts";
import { errorMessage } from "./log.ts";
import type { LogFields, Logger } from "./log.ts";
import { Outbox, isReportableTaskId } from "./outbox.ts";
import type { NewStatus, OutboxOptions } from "./outbox.ts";
import { agentIsRoot } from "./drivers/users.ts";
import { DEFAULT_POLICY, vetLaunch } from "./policy.ts";
import type { AgentPolicy } from "./policy.ts";
import { prepareSandboxRoot, sandboxPath, unreachableParent } from "./sandbox.ts";
import { outcomeOf } from "./task-outcome.ts";
import type { Outcome } from "./task-outcome.ts";
import { TaskStore } from "./task-store.ts";
import type { TaskRecord } from "./task-store.ts";

/** One task as the agent reports it in `register`. */
export type TaskReport = Register["tasks"][number];

/**
 * Tasks of a launch frame the agent could not read, from the session (session.ts), which read
 * the frame task by task: each is refused alone while the frame's other tasks launch.
 */
export interface LaunchRefused {
  type: "launchRefused";
  tasks: RefusedLaunch[];
}

/** The master's frames that concern tasks rather than the session itself. */
export type MasterCommand = Exclude<MasterMessage, { type: "registered" } | { type: "retry" } | { type: "window" } | { type: "error" }> | LaunchRefused;
/** The service proxy's frames (agent/proxy/). */
export type ProxyCommand = ProxyOpen | ProxyCredit | ProxyEnd | ProxyReset;
/** The commands the task host handles; log requests go to the log service, VIP tables to the balancer, proxy frames to the proxy. */
export type TaskCommand = Exclude<MasterCommand, { type: "logs" } | { type: "logsCancel" } | { type: "bundle" } | { type: "vips" } | ProxyCommand>;

/**
 * Where task drivers (exec, docker) plug into the agent. The connection knows nothing about
 * tasks: it asks the host what to report on each (re)connect, hands it every task frame, and
 * tells it when frames can flow.
 */
export interface TaskHost {
  /**
   * Resolves once the drivers have been probed and every task an earlier agent process left
   * has been re-attached (or found ended): only then are `reports` and `attributes` complete.
   * Commands that arrive earlier wait for it.
   */
  ready(): Promise<void>;
  /** Attributes the drivers add to the agent's own, e.g. `docker: "<version>"` while Docker answers. */
  attributes(): Record<string, string>;
  /** What each task driver says of itself now (availability, isolation). */
  fingerprints(): DriverFingerprint[];
  /** Every task this agent knows of and has not settled with the master, for `register`. */
  reports(): TaskReport[];
  /** A launch, kill, ack or reconcile frame from the master. Must not throw. */
  handle(command: TaskCommand): void;
  /** Where a task's output is and whether it still runs; undefined for a task this agent never had. */
  logSource(taskId: string): LogSource | undefined;
  /** The host ports of a task this agent runs now (RUNNING); undefined for any other task. The service proxy dials only these. */
  servicePorts(taskId: string): readonly number[] | undefined;
  /** A session is registered: status frames may go out through `send`. */
  connected(send: (message: AgentMessage) => void): void;
  /** The session ended; updates wait in the outbox for the next one. */
  disconnected(): void;
  /**
   * Agent shutdown: optionally kills every task (each with its launch's grace), sends what is
   * pending (best effort; the rest stays on disk) and releases the work dir. Idempotent.
   */
  close(options: { killTasks: boolean }): Promise<void>;
  /** The longest kill grace of the tasks, to bound a shutdown that kills them. */
  maxKillGraceMs(): number;
  /** The tasks' states and what they hold, and the outbox's depth (the agent's metrics). */
  stats(): TaskHostStats;
}

/** See `TaskHost.stats`. */
export interface TaskHostStats {
  /** Tasks not yet settled with the master, by the state last reported for each. */
  tasksByState: Record<string, number>;
  /** What tasks still running or starting hold: scalars, and a count of host ports. */
  used: { cpus: number; mem: number; disk: number; gpus: number; ports: number };
  /** Status updates waiting in the outbox for the master's ack. */
  outboxDepth: number;
}

/** How long shutdown waits for the master to ack what it just flushed. */
const SHUTDOWN_ACK_WAIT_MS = 250;

/** What the task host needs; the driver and outbox tunings default to production values. */
export interface TaskHostOptions {
  workDir: string;
  log: Logger;
  /** Defaults to the exec driver, and the docker driver when `docker` is given. */
  drivers?: TaskDriver[];
  exec?: Omit<ExecDriverOptions, "log">;
  docker?: Omit<DockerDriverOptions, "log">;
  outbox?: Omit<OutboxOptions, "log">;
  /** What tasks may have of the host; DEFAULT_POLICY (nothing beyond the sandbox) by default. */
  policy?: AgentPolicy;
  /**
   * How long a RUNNING task the master kills keeps running before it is signalled, so that
   * no resolver of the cluster still hands out its address (protocol/dns-lease.ts). DNS_DRAIN_MS
   * by default.
   */
  dnsDrainMs?: number;
}

/** A task the host is responsible for; `phase` is where it is in its life on this agent. */
interface Entry {
  record: TaskRecord;
  driver?: TaskDriver;
  phase: "starting" | "running" | "killing" | "ended";
  running?: RunningTask;
  /** A kill that arrived while the task was starting, applied once it has. */
  pendingKillMs?: number;
  /** Ends a kill's DNS drain early (the agent is shutting down and killing its tasks). */
  endDrain?: () => void;
  /** The last result reported of each health check, by index. */
  health?: Map<number, boolean>;
  ended: Promise<void>;
  markEnded: () => void;
}

/**
 * Opens the work dir's task records and outbox, re-attaches to every task an earlier agent
 * process left running, and returns the host. Throws when the database cannot be opened.
 */
export function createTaskHost(options: TaskHostOptions): TaskHost {
  return new DriverTaskHost(options);
}

class DriverTaskHost implements TaskHost {
  private readonly log: Logger;
  private readonly workDir: string;
  private readonly policy: AgentPolicy;
  private readonly dnsDrainMs: number;
  /** What no task may mount whatever the policy allows: the work dir and the docker socket. */
  private readonly protectedPaths: string[];
  private readonly db: Database;
  private readonly store: TaskStore;
  private readonly outbox: Outbox;
  private readonly drivers: ReadonlyMap<string, TaskDriver>;
  private readonly entries = new Map<string, Entry>();
  /** Health and readiness checks of running tasks. */
  private readonly checks: CheckRunner;
  private readonly startup: Promise<void>;
  private started = false;
  private online = false;
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(options: TaskHostOptions) {
    this.log = options.log;
    this.workDir = options.workDir;
    this.policy = options.policy ?? DEFAULT_POLICY;
    this.dnsDrainMs = options.dnsDrainMs ?? DNS_DRAIN_MS;
    this.protectedPaths = [options.workDir, ...(options.docker === undefined ? [] : [options.docker.socket ?? DEFAULT_DOCKER_SOCKET])];
    prepareSandboxRoot(options.workDir);
    const blocked = agentIsRoot() ? unreachableParent(options.workDir) : undefined;
    if (blocked !== undefined)
      this.log.warn("work_dir_unreachable", {
        dir: blocked,
        why: "other users cannot search it (o+x), so tasks running as another user cannot reach their sandbox by path",
      });
    this.db = openAgentDb(options.workDir);
    this.store = new TaskStore(this.db);
    this.outbox = new Outbox(this.db, { ...options.outbox, log: options.log });
    this.checks = new CheckRunner(
      (status) => {
        this.noteHealth(status);
        this.outbox.add(status);
      },
      () => this.online && !this.closed,
      options.log,
    );
    const drivers = options.drivers ?? defaultDrivers(options, (launch) => this.vetAgain(launch));
    this.drivers = new Map(drivers.map((driver) => [driver.name, driver]));
    // Tracked at once, so `reports` lists them; re-attaching is asynchronous (the docker driver asks its daemon).
    const recovered = this.store.live().map((record) => this.track(record, this.drivers.get(record.driver)));
    this.startup = this.start(recovered);
  }

  ready(): Promise<void> {
    return this.startup;
  }

  fingerprints(): DriverFingerprint[] {
    return [...this.drivers.values()].map((driver) => driver.fingerprint());
  }

  attributes(): Record<string, string> {
    const attributes: Record<string, string> = {};
    for (const driver of this.drivers.values()) Object.assign(attributes, driver.fingerprint().attributes);
    return attributes;
  }

  reports(): TaskReport[] {
    return [...this.entries.values()].map(({ record }) => ({ taskId: record.taskId, state: record.state }));
  }

  handle(command: TaskCommand): void {
    if (!this.started) {
      void this.startup.then(() => this.handle(command));
      return;
    }
    if (this.closed || (this.closing !== undefined && command.type === "launch")) {
      this.log.warn("command_ignored", { type: command.type, why: "the agent is shutting down" });
      return;
    }
    if (command.type === "launch") {
      for (const launch of command.tasks) {
        this.launch(launch).catch((error: unknown) => this.launchCrashed(launch.taskId, error));
      }
    } else if (command.type === "kill") {
      for (const taskId of command.taskIds) this.kill(taskId, command.gracePeriodMs, this.dnsDrainMs);
    } else if (command.type === "ack") {
      this.ack(command.updateIds);
    } else if (command.type === "launchRefused") {
      for (const refused of command.tasks) this.refuseLaunch(refused);
    } else {
      this.reconcile(command.taskIds);
    }
  }

  logSource(taskId: string): LogSource | undefined {
    const entry = this.entries.get(taskId);
    if (entry !== undefined) return { sandbox: entry.record.sandbox, running: entry.phase !== "ended" };
    // Settled tasks keep their record (and sandbox) after the master acked their end.
    const record = this.closed ? undefined : this.store.get(taskId);
    return record === undefined ? undefined : { sandbox: record.sandbox, running: false };
  }

  servicePorts(taskId: string): readonly number[] | undefined {
    const entry = this.entries.get(taskId);
    return entry?.phase === "running" && !this.closed ? entry.record.launch.ports : undefined;
  }

  connected(send: (message: AgentMessage) => void): void {
    if (this.closed) return;
    this.online = true;
    this.outbox.connect(send);
  }

  disconnected(): void {
    this.online = false;
    if (!this.closed) this.outbox.disconnect();
  }

  close(options: { killTasks: boolean }): Promise<void> {
    this.closing ??= this.shutdown(options.killTasks);
    return this.closing;
  }

  stats(): TaskHostStats {
    const tasksByState: Record<string, number> = {};
    const used = { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: 0 };
    for (const { record, phase } of this.entries.values()) {
      tasksByState[record.state] = (tasksByState[record.state] ?? 0) + 1;
      if (phase === "ended") continue;
      const { cpus, mem, disk, gpus } = record.launch.resources;
      used.cpus += cpus;
      used.mem += mem;
      used.disk += disk;
      used.gpus += gpus;
      used.ports += record.launch.ports.length;
    }
    // The outbox's database is closed with the host.
    return { tasksByState, used, outboxDepth: this.closed ? 0 : this.outbox.count() };
  }

  maxKillGraceMs(): number {
    let longest = 0;
    for (const { record } of this.entries.values()) longest = Math.max(longest, record.launch.killGracePeriodMs);
    return longest;
  }

  private async shutdown(killTasks: boolean): Promise<void> {
    await this.startup;
    if (killTasks) {
      for (const entry of this.entries.values()) {
        if (entry.phase === "starting" || entry.phase === "running") this.kill(entry.record.taskId, entry.record.launch.killGracePeriodMs);
        else entry.endDrain?.();
      }
      await Promise.all([...this.entries.values()].map((entry) => entry.ended));
    }
    this.checks.stopAll();
    this.outbox.flush();
    if (this.online && this.outbox.count() > 0) await this.outbox.drain(SHUTDOWN_ACK_WAIT_MS);
    this.closed = true;
    for (const driver of this.drivers.values()) driver.close();
    this.outbox.close();
    this.db.close();
    this.log.info("tasks_closed", { killed: killTasks, running: [...this.entries.values()].filter((entry) => entry.phase !== "ended").length });
  }

  private async launch(launch: TaskLaunch): Promise<void> {
    const { taskId } = launch;
    const known = this.entries.get(taskId)?.record ?? this.store.get(taskId);
    if (known !== undefined) {
      // Never run a task id twice. A settled one is stated again so the master can settle too.
      this.log.warn("task_duplicate", { taskId, state: known.state });
      if (isTerminal(known.state)) this.report(taskId, known.state, known.message);
      return;
    }
    const sandbox = sandboxPath(this.workDir, taskId);
    const { driver, refusal, vetted } = this.chooseDriver(launch);
    const entry = this.track({ taskId, driver: driver?.name ?? "none", launch: vetted ?? launch, sandbox, state: "TASK_STARTING", done: false }, driver);
    if (driver === undefined) {
      return this.db.transaction(() => {
        this.store.insert(entry.record);
        this.settle(entry, refusal, "task_refused");
      })();
    }
    const commit = this.launchCommits(entry);
    // A driver that starts its task within this turn has nothing to say meanwhile: its record and
    // TASK_STARTING go in one commit with its TASK_RUNNING (or its failure), not one commit each.
    if (driver.startsInTurn !== true) commit(() => {});
    let running: RunningTask;
    try {
      // The driver records the process once its handle is complete, before the command may run
      // (the exec driver after this turn, once it read the wrapper's start time): an agent that
      // stops before finds no process in the record and fails the task, whose command never ran.
      running = await driver.start(
        vetted,
        sandbox,
        (message) => commit(() => this.report(taskId, "TASK_STARTING", message)),
        (task) => commit(() => this.store.setProcess(task)),
      );
    } catch (error) {
      return commit(() => this.settle(entry, { state: "TASK_FAILED", message: errorMessage(error) }, "task_launch_failed"));
    }
    const killMs = entry.pendingKillMs;
    commit(() => {
      if (killMs === undefined) this.report(taskId, "TASK_RUNNING");
    });
    entry.running = running;
    if (killMs !== undefined) this.beginKill(entry, killMs);
    else this.runningReported(entry);
    void this.watch(entry, running);
    this.log.info("task_launched", { taskId, name: launch.name, driver: running.driver, pid: running.pid, sandbox });
  }

  /**
   * The launch's commits: each runs `write` in a transaction, the first one after writing the
   * task's record and its TASK_STARTING. Until that commit nothing of the task is on disk, and
   * its process (if any) waits for its go, which comes only after the process is recorded. Once
   * one failed (the launch then crashed: TASK_DROPPED), every later one throws, so a process
   * spawned meanwhile is never recorded, nor let run.
   */
  private launchCommits(entry: Entry): (write: () => void) => void {
    let recorded = false;
    let failed = false;
    return (write) => {
      if (failed) throw new Error("an earlier write of the launch failed");
      try {
        this.db.transaction(() => {
          if (!recorded) {
            this.store.insert(entry.record);
            this.report(entry.record.taskId, "TASK_STARTING");
          }
          write();
        })();
      } catch (error) {
        failed = true;
        throw error;
      }
      recorded = true;
    };
  }

  /**
   * A launch this agent could not read: TASK_ERROR (Mesos's state for an invalid task), sent
   * unrecorded as nothing of it was recorded, so the master ends it and its framework replaces
   * or reports it rather than waiting on it. A task this agent already holds is left as it is.
   */
  private refuseLaunch({ taskId, message }: RefusedLaunch): void {
    this.log.warn("task_launch_refused", { taskId, message });
    if (this.entries.has(taskId)) return;
    this.outbox.sendUnrecorded({ taskId, state: "TASK_ERROR", message });
  }

  /**
   * A launch that threw before its task ran: most often the agent's database could not be
   * written (a full disk), so neither the task nor an update about it can be recorded. The task
   * is forgotten here and TASK_DROPPED is sent unrecorded (Mesos's state for a task that did not
   * launch because of a transient error), so the master replaces it instead of waiting on a
   * task that will never start. A task whose process did start is left to reconciliation.
   */
  private launchCrashed(taskId: string, error: unknown): void {
    this.log.error("task_launch_crashed", { taskId, error: errorMessage(error) });
    const entry = this.entries.get(taskId);
    if (entry === undefined || entry.running !== undefined || entry.phase === "ended") return;
    this.entries.delete(taskId);
    try {
      this.store.remove(taskId);
    } catch (removeError) {
      this.log.warn("task_record_remove_failed", { taskId, error: errorMessage(removeError) });
    }
    this.outbox.sendUnrecorded({ taskId, state: "TASK_DROPPED", message: `the agent could not launch the task: ${errorMessage(error)}` });
    entry.markEnded();
  }

  /**
   * The driver for a launch and the launch as this agent's policy lets it run (policy.ts), or
   * the state and message it is refused with.
   */
  private chooseDriver(launch: TaskLaunch): { driver: TaskDriver; vetted: TaskLaunch; refusal?: never } | { driver?: never; vetted?: never; refusal: Outcome } {
    if (launch.command === undefined && launch.container === undefined) {
      return { refusal: { state: "TASK_ERROR", message: "the task has neither a command nor a container" } };
    }
    const { launch: vetted, refusal } = vetLaunch(launch, this.policy, agentIsRoot(), this.protectedPaths);
    if (vetted === undefined) return { refusal: { state: "TASK_ERROR", message: refusal } };
    // TASK_FAILED, not TASK_ERROR: the task is valid, this agent just cannot run it; another may.
    const name = launch.container === undefined ? "exec" : "docker";
    const driver = this.drivers.get(name);
    if (driver === undefined) return { refusal: { state: "TASK_FAILED", message: `${name} driver not available yet` } };
    const fingerprint = driver.fingerprint();
    if (!fingerprint.available)
      return { refusal: { state: "TASK_FAILED", message: `${name} driver not available: ${fingerprint.reason ?? "unknown reason"}` } };
    return { driver, vetted };
  }

  /** The docker driver's last check before it creates a container (DockerDriverOptions.recheck). */
  private vetAgain(launch: TaskSpec): TaskSpec {
    const { launch: vetted, refusal } = vetLaunch(launch, this.policy, agentIsRoot(), this.protectedPaths);
    if (vetted === undefined) throw new TaskStartError(refusal);
    return vetted;
  }

  /**
   * Kills a task; one that is RUNNING, and so answers in the cluster's DNS, first waits out
   * `drainMs` (the master's kills; a shutdown of the agent does not wait). A task still
   * starting was never in DNS and is killed once started.
   */
  private kill(taskId: string, graceMs: number, drainMs = 0): void {
    const entry = this.entries.get(taskId);
    if (entry === undefined) return this.restate(taskId, "kill");
    if (entry.phase === "starting") entry.pendingKillMs = graceMs;
    else if (entry.phase === "running") this.beginKill(entry, graceMs, mayAnswerInDns(entry) ? drainMs : 0);
    else if (entry.phase === "ended") this.report(taskId, entry.record.state, entry.record.message);
  }

  /** TASK_KILLING now; after the drain the driver's SIGTERM, SIGKILL after the grace; `watch` reports KILLED. */
  private beginKill(entry: Entry, graceMs: number, drainMs = 0): void {
    const { taskId } = entry.record;
    const deadline = Date.now() + drainMs + graceMs;
    this.checks.stop(taskId);
    entry.phase = "killing";
    entry.record.killDeadline = deadline;
    this.db.transaction(() => {
      this.store.setKillDeadline(taskId, deadline);
      this.report(taskId, "TASK_KILLING");
    })();
    this.log.info("task_killing", { taskId, graceMs, drainMs });
    const { driver, running } = entry;
    if (driver === undefined || running === undefined) return;
    const stop = () => {
      // The task may have ended by itself during the drain.
      if (entry.phase !== "killing") return;
      driver.stop(running, graceMs).catch((error: unknown) => this.log.error("task_kill_failed", { taskId, error: errorMessage(error) }));
    };
    if (drainMs <= 0) return stop();
    // Unref'd: a drain never keeps a stopping agent alive; a restarted agent resumes the kill (recover).
    const timer = setTimeout(stop, drainMs);
    timer.unref();
    entry.endDrain = () => {
      clearTimeout(timer);
      stop();
    };
  }

  /** Keeps the last result of each health check of a task (see mayAnswerInDns). */
  private noteHealth(status: NewStatus): void {
    if (status.healthy === undefined || status.healthCheck === undefined) return;
    const entry = this.entries.get(status.taskId);
    if (entry === undefined) return;
    entry.health ??= new Map();
    entry.health.set(status.healthCheck, status.healthy);
  }

  /** Removes acked updates; a task whose terminal update is acked is settled and forgotten. */
  private ack(updateIds: readonly string[]): void {
    this.db.transaction(() => {
      for (const acked of this.outbox.ack(updateIds)) {
        const entry = this.entries.get(acked.taskId);
        if (!isTerminal(acked.state) || (entry !== undefined && entry.phase !== "ended")) continue;
        this.store.markDone(acked.taskId);
        this.entries.delete(acked.taskId);
      }
    })();
  }

  /** Sends the latest state of each task again (all known tasks for an empty list). */
  private reconcile(taskIds: readonly string[]): void {
    const ids = taskIds.length === 0 ? [...this.entries.keys()] : taskIds;
    for (const taskId of ids) this.restate(taskId, "reconcile");
  }

  /** Reports a task's latest state again; one the agent has never heard of is TASK_LOST. */
  private restate(taskId: string, why: string): void {
    if (!isReportableTaskId(taskId)) {
      this.log.warn("task_id_invalid", { command: why, taskId: taskId.slice(0, 64) });
      return;
    }
    const record = this.entries.get(taskId)?.record ?? this.store.get(taskId);
    if (record !== undefined) return this.report(taskId, record.state, record.message);
    this.log.info("task_unknown", { taskId, command: why });
    this.report(taskId, "TASK_LOST", "unknown task");
  }

  /**
   * Probes the drivers (the docker driver asks its daemon), then re-attaches to the tasks an
   * earlier agent process recorded, and removes containers of this agent that no record knows.
   */
  private async start(entries: Entry[]): Promise<void> {
    await Promise.all(
      [...this.drivers.values()].map(async (driver) => {
        const found = driver.probe ? await driver.probe() : driver.fingerprint();
        this.log.info("driver", { name: found.name, available: found.available, reason: found.reason, attributes: found.attributes });
      }),
    );
    await Promise.all(
      entries.map((entry) =>
        this.recover(entry).catch((error: unknown) => {
          this.settle(entry, { state: "TASK_FAILED", message: `the agent could not recover the task: ${errorMessage(error)}` }, "task_recovery_failed");
        }),
      ),
    );
    const live = new Set([...this.entries.values()].filter((entry) => entry.phase !== "ended").map((entry) => entry.record.taskId));
    for (const driver of this.drivers.values()) {
      await driver.removeStrays?.(live).catch((error: unknown) => this.log.warn("strays_check_failed", { driver: driver.name, error: errorMessage(error) }));
    }
    this.started = true;
  }

  /** Re-attaches to a task recorded by an earlier agent process. */
  private async recover(entry: Entry): Promise<void> {
    const { record, driver } = entry;
    if (isTerminal(record.state)) {
      // Ended before; only its terminal update's ack is missing.
      entry.phase = "ended";
      return entry.markEnded();
    }
    if (driver === undefined || record.process === undefined) {
      const message = driver === undefined ? `the ${record.driver} driver is not available to recover the task` : "the agent stopped while launching the task";
      return this.settle(entry, { state: "TASK_FAILED", message }, "task_exited");
    }
    const found = await driver.recover(record.process);
    this.log.info("task_recovered", {
      taskId: record.taskId,
      pid: record.process.pid,
      containerId: record.process.containerId,
      alive: found.alive,
      state: record.state,
    });
    entry.phase = record.killDeadline === undefined ? "running" : "killing";
    if (!found.alive) return this.settle(entry, outcomeOf(found.status, entry.phase === "killing"), "task_exited");
    entry.running = found.task;
    if (entry.phase === "killing") {
      const graceMs = Math.max(0, (record.killDeadline ?? 0) - Date.now());
      driver.stop(found.task, graceMs).catch((error: unknown) => this.log.error("task_kill_failed", { taskId: record.taskId, error: errorMessage(error) }));
    } else if (record.state === "TASK_STARTING") {
      this.setRunning(entry);
    } else {
      this.startChecks(entry);
    }
    void this.watch(entry, found.task);
  }

  private track(record: TaskRecord, driver: TaskDriver | undefined): Entry {
    let markEnded = () => {};
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const entry: Entry = { record, driver, phase: "starting", ended, markEnded };
    this.entries.set(record.taskId, entry);
    return entry;
  }

  private setRunning(entry: Entry): void {
    this.report(entry.record.taskId, "TASK_RUNNING");
    this.runningReported(entry);
  }

  /** A task whose TASK_RUNNING is recorded: it is running, and its checks start. */
  private runningReported(entry: Entry): void {
    entry.phase = "running";
    this.startChecks(entry);
  }

  /** Starts the launch's checks, if it has any; their results go out as updates of the running task. */
  private startChecks(entry: Entry): void {
    if (entry.driver !== undefined && entry.running !== undefined) this.checks.start(entry.record.launch, entry.driver, entry.running);
  }

  /** Waits for the task's process to end and reports how. */
  private async watch(entry: Entry, running: RunningTask): Promise<void> {
    const driver = entry.driver;
    if (driver === undefined) return;
    try {
      const status = await driver.wait(running);
      const exit = status.kind === "exited" ? { code: status.code } : status.kind === "signaled" ? { signal: status.signal } : {};
      const killing = entry.phase === "killing";
      this.settle(entry, outcomeOf(status, killing), killing ? "task_killed" : "task_exited", exit);
    } catch (error) {
      this.log.error("task_wait_failed", { taskId: entry.record.taskId, error: errorMessage(error) });
    }
  }

  /**
   * Reports a task's terminal state and logs `event`; after this only the master's ack is
   * awaited. A task that ends after shutdown is left for the next agent process to find.
   */
  private settle(entry: Entry, outcome: Outcome, event: string, fields: LogFields = {}): void {
    if (this.closed) return;
    this.checks.stop(entry.record.taskId);
    entry.phase = "ended";
    const level = outcome.state === "TASK_FINISHED" || outcome.state === "TASK_KILLED" ? "info" : "warn";
    this.log[level](event, { taskId: entry.record.taskId, state: outcome.state, ...fields, message: outcome.message });
    this.report(entry.record.taskId, outcome.state, outcome.message);
    entry.markEnded();
  }

  /** Records a task's new state and its status update in one transaction, then lets the outbox send it. */
  private report(taskId: string, state: TaskState, message?: string): void {
    this.db.transaction(() => {
      this.store.setState(taskId, state, message);
      this.outbox.add({ taskId, state, message });
    })();
    const record = this.entries.get(taskId)?.record;
    if (record !== undefined) {
      record.state = state;
      record.message = message;
    }
  }
}

function defaultDrivers(options: TaskHostOptions, recheck: (launch: TaskSpec) => TaskSpec): TaskDriver[] {
  // The cgroup scope comes from the work dir: stable across restarts, apart from other agents'.
  const taskUser = (options.policy ?? DEFAULT_POLICY).taskUser;
  const exec = new ExecDriver({
    cgroups: { scope: agentCgroupScope(options.workDir) },
    taskUser,
    hiddenDir: options.workDir,
    ...options.exec,
    log: options.log,
  });
  return options.docker === undefined ? [exec] : [exec, new DockerDriver({ ...options.docker, log: options.log, recheck })];
}

/**
 * Whether a running task may still be answered in the cluster's DNS, as far as this agent can
 * tell: a task with health checks is only there while they pass (control/cluster/dns-source.ts),
 * so one whose checks have not all reported a pass (or whose last result was a failure) left
 * DNS before, and its kill, usually for that very failure, need not wait out the DNS lease.
 */
function mayAnswerInDns(entry: Entry): boolean {
  const checks = entry.record.launch.healthChecks ?? [];
  return checks.every((_, index) => entry.health?.get(index) === true);
}
