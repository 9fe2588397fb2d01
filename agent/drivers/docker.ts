import { closeSync, mkdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { TaskSpec } from "./task-spec.ts";
import { errorMessage } from "../log.ts";
import { sandboxName } from "../sandbox.ts";
import type { Logger } from "../log.ts";
import { DockerClient, DockerError, DockerUnavailable, LogDemuxer } from "./docker-api.ts";
import type { ContainerInspect } from "./docker-api.ts";
import { LABEL_AGENT, LABEL_TASK, containerName, containerSpec } from "./docker-container.ts";
import { TaskStartError } from "./driver.ts";
import type { CommandExit, DriverFingerprint, ExitStatus, Recovered, RunningTask, TaskDriver } from "./driver.ts";
import { DEFAULT_LOG_CAP_BYTES, STDERR_FILE, STDOUT_FILE, capTaskLogs, openLogSink, readTail } from "./log-files.ts";
import { processTree } from "./proc.ts";

/**
 * The docker driver: a task is a Docker container, driven over the Engine API (docker-api.ts).
 *
 * Life of a container: pulled if missing (or `forcePullImage`), created with the task's limits
 * and the labels dcx.task_id / dcx.agent_id / dcx.app_id, started; its output is copied from
 * Docker's log stream into the sandbox's `stdout` and `stderr`, so one log mechanism serves both
 * drivers; once it stops, its exit code (and whether the kernel OOM-killed it) is read, its
 * last output copied, and the container removed.
 *
 * Restarts: containers belong to dockerd, not to the agent, so they run on while the agent is
 * down. The container id is persisted in the task record; a new agent process re-attaches to a
 * running container (wait, logs) or reads the exit status of one that stopped meanwhile, and
 * removes containers labelled with its agent id that no task record knows.
 */

const STDERR_TAIL_BYTES = 1024;
/** How long to wait between attempts when the daemon stops answering mid-task. */
const RETRY_MS = 1000;

export interface DockerDriverOptions {
  log: Logger;
  socket?: string;
  /** The agent's id for the dcx.agent_id label; launches only come once it is registered. */
  agentId: () => string | undefined;
  logCapBytes?: number;
  logCheckMs?: number;
  dnsAddress?: () => string | undefined;
  /**
   * Checks the launch again right before each container create, handing back its host paths
   * resolved afresh, or throws a TaskStartError. Paths were resolved when the launch came in,
   * but an image pull can take minutes, and a path under an allowed prefix may meanwhile have
   * been swapped for a symlink out of it: the path Docker mounts must be the one just checked.
   */
  recheck?: (launch: TaskSpec) => TaskSpec;
}

interface Watched {
  task: RunningTask;
  exited: Promise<ExitStatus>;
  /** Ends the log copy early (agent shutdown). */
  abort: AbortController;
}

export class DockerDriver implements TaskDriver {
  readonly name = "docker";
  private readonly client: DockerClient;
  private readonly log: Logger;
  private readonly logCapBytes: number;
  private readonly logCheckMs: number;
  private readonly dnsAddress: () => string | undefined;
  private readonly agentId: () => string | undefined;
  private readonly recheck: (launch: TaskSpec) => TaskSpec;
  private readonly watched = new Map<string, Watched>();
  /** Keyed by the handle given out, so `wait` works even after the task left `watched`. */
  private readonly exits = new WeakMap<RunningTask, Promise<ExitStatus>>();
  private state: DriverFingerprint = { name: "docker", available: false, reason: "not probed yet" };
  private capTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(options: DockerDriverOptions) {
    this.client = new DockerClient(options.socket);
    this.log = options.log;
    this.agentId = options.agentId;
    this.recheck = options.recheck ?? ((launch) => launch);
    this.logCapBytes = options.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
    this.logCheckMs = options.logCheckMs ?? 2_000;
    this.dnsAddress = options.dnsAddress ?? (() => undefined);
  }

  /** Asks the daemon for its version; the result is what `fingerprint` says from then on. */
  async probe(): Promise<DriverFingerprint> {
    try {
      const version = await this.client.version();
      this.state = { name: this.name, available: true, attributes: { docker: version } };
    } catch (error) {
      this.state = { name: this.name, available: false, reason: errorMessage(error) };
    }
    return this.state;
  }

  fingerprint(): DriverFingerprint {
    return this.state;
  }

  async start(launch: TaskSpec, sandbox: string, progress?: (message: string) => void, record?: (task: RunningTask) => void): Promise<RunningTask> {
    const container = launch.container;
    if (container === undefined) throw new TaskStartError("the docker driver needs a container");
    mkdirSync(sandbox, { recursive: true, mode: 0o750 });
    for (const file of [STDOUT_FILE, STDERR_FILE]) closeSync(openLogSink(join(sandbox, file), false));
    const name = containerName(sandboxName(launch.taskId));
    const create = () =>
      this.createReplacingLeftover(name, containerSpec(this.recheck(launch), { sandbox, agentId: this.agentId() ?? "unregistered", dns: this.dnsAddress() }));
    if (container.forcePullImage) await this.pull(container.image, true, progress);
    let id: string;
    try {
      // Created straight away: asking first whether the image is there would cost every launch a round trip.
      id = await create().catch(async (error: unknown) => {
        if (!(error instanceof DockerError && error.status === 404)) throw error;
        await this.pull(container.image, false, progress);
        return create();
      });
    } catch (error) {
      if (error instanceof TaskStartError) throw error;
      throw new TaskStartError(`docker could not create the container: ${errorMessage(error)}`);
    }
    try {
      await this.client.start(id);
    } catch (error) {
      await this.client.remove(id).catch(() => undefined);
      throw new TaskStartError(`docker could not start the container: ${errorMessage(error)}`);
    }
    // No pid: the container id is the handle, and dockerd, not the agent, owns the processes.
    const task: RunningTask = { taskId: launch.taskId, driver: this.name, pid: 0, pgid: 0, startTime: 0, sandbox, containerId: id };
    this.track(task, false);
    record?.(task);
    return task;
  }

  wait(task: RunningTask): Promise<ExitStatus> {
    return this.exits.get(task) ?? this.watched.get(task.taskId)?.exited ?? Promise.reject(new Error(`the docker driver is not watching task ${task.taskId}`));
  }

  async stop(task: RunningTask, graceMs: number): Promise<void> {
    const exited = this.exits.get(task) ?? this.watched.get(task.taskId)?.exited;
    if (exited === undefined || task.containerId === undefined) return;
    try {
      // Docker's grace is in whole seconds; round up so a task never gets less than asked.
      await this.client.stop(task.containerId, Math.ceil(graceMs / 1000));
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 404)) throw error;
    }
    await exited;
  }

  /**
   * Runs the command inside the task's container, where its environment and files are (the
   * Mesos way). One past its timeout is SIGKILLed from the host by its pid, with everything it
   * started, or a hung check would leave processes behind at every interval.
   */
  async runCommand(task: RunningTask, _launch: TaskSpec, command: string, timeoutMs: number): Promise<CommandExit> {
    if (task.containerId === undefined) throw new Error(`task ${task.taskId} has no container`);
    const exit = await this.client.exec(task.containerId, ["/bin/sh", "-c", command], timeoutMs);
    if (exit.pid !== undefined) killHung(exit.pid);
    return { code: exit.code, timedOut: exit.timedOut, output: (exit.stderr.trim() || exit.stdout.trim()).slice(-512) };
  }

  async recover(record: RunningTask): Promise<Recovered> {
    const id = record.containerId ?? (await this.findByTask(record.taskId));
    if (id === undefined)
      return { alive: false, status: { kind: "unknown", reason: "the task's container is gone: it was removed while the agent was down", stderrTail: "" } };
    let info: ContainerInspect;
    try {
      info = await this.client.inspect(id);
    } catch (error) {
      if (error instanceof DockerError && error.status === 404) {
        return {
          alive: false,
          status: { kind: "unknown", reason: "the task's container is gone: it was removed while the agent was down", stderrTail: tail(record.sandbox) },
        };
      }
      throw error;
    }
    const task: RunningTask = { ...record, containerId: id };
    if (info.State.Running) {
      this.track(task, true);
      return { alive: true, task };
    }
    // Stopped while the agent was away: its exit code and output are still in dockerd.
    await this.copyLogs(task, true, new AbortController().signal);
    await this.client.remove(id).catch((error: unknown) => this.log.warn("container_remove_failed", { taskId: task.taskId, error: errorMessage(error) }));
    return { alive: false, status: statusOf(info.State.ExitCode, info.State.OOMKilled, tail(task.sandbox)) };
  }

  /** Removes this agent's containers that belong to none of `known` (task ids); returns how many. */
  async removeStrays(known: ReadonlySet<string>): Promise<number> {
    const agentId = this.agentId();
    if (agentId === undefined || !this.state.available) return 0;
    const strays = (await this.client.list({ [LABEL_AGENT]: agentId })).filter((c) => !known.has(c.Labels[LABEL_TASK] ?? ""));
    for (const stray of strays) {
      this.log.warn("container_stray_removed", { containerId: stray.Id, taskId: stray.Labels[LABEL_TASK], state: stray.State });
      await this.client.remove(stray.Id);
    }
    return strays.length;
  }

  close(): void {
    this.closed = true;
    if (this.capTimer !== undefined) clearInterval(this.capTimer);
    this.capTimer = undefined;
    for (const watched of this.watched.values()) watched.abort.abort();
    this.watched.clear();
  }

  private async pull(image: string, force: boolean, progress?: (message: string) => void): Promise<void> {
    try {
      progress?.(`pulling image ${image}`);
      this.log.info("image_pulling", { image, forced: force });
      await this.client.pull(image);
    } catch (error) {
      throw new TaskStartError(`could not pull image '${image}': ${errorMessage(error)}`);
    }
  }

  /** Creates the container; a leftover of the same name (a start cut short by a crash) is removed first. */
  private async createReplacingLeftover(name: string, spec: ReturnType<typeof containerSpec>): Promise<string> {
    try {
      return await this.client.create(name, spec);
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 409)) throw error;
      this.log.warn("container_leftover_removed", { name });
      await this.client.remove(name);
      return this.client.create(name, spec);
    }
  }

  private async findByTask(taskId: string): Promise<string | undefined> {
    const found = await this.client.list({ [LABEL_TASK]: taskId });
    return found[0]?.Id;
  }

  /** Watches a running container: copies its output and settles `exited` once it stops. */
  private track(task: RunningTask, recovered: boolean): void {
    const abort = new AbortController();
    const exited = this.follow(task, recovered, abort.signal);
    this.watched.set(task.taskId, { task, exited, abort });
    this.exits.set(task, exited);
    void exited.then(() => {
      if (this.watched.get(task.taskId)?.exited === exited) this.watched.delete(task.taskId);
    });
    this.capTimer ??= setInterval(() => this.capLogs(), this.logCheckMs);
    this.capTimer.unref();
  }

  private async follow(task: RunningTask, recovered: boolean, signal: AbortSignal): Promise<ExitStatus> {
    const id = task.containerId ?? "";
    const copying = this.copyLogs(task, recovered, signal);
    let exitCode: number | undefined;
    while (exitCode === undefined) {
      try {
        exitCode = await this.client.wait(id);
      } catch (error) {
        if (error instanceof DockerError && error.status === 404) {
          return { kind: "unknown", reason: "the task's container was removed outside the agent", stderrTail: tail(task.sandbox) };
        }
        if (this.closed) return new Promise<never>(() => {});
        this.log.warn("container_wait_failed", { taskId: task.taskId, error: errorMessage(error), retryInMs: RETRY_MS });
        await Bun.sleep(RETRY_MS);
      }
    }
    await copying;
    if (this.closed) return new Promise<never>(() => {});
    const info = await this.client.inspect(id).catch(() => undefined);
    await this.client.remove(id).catch((error: unknown) => this.log.warn("container_remove_failed", { taskId: task.taskId, error: errorMessage(error) }));
    capTaskLogs(task, this.logCapBytes, this.log);
    return statusOf(info?.State.ExitCode ?? exitCode, info?.State.OOMKilled ?? false, tail(task.sandbox));
  }

  /**
   * Copies the container's output into the sandbox files until it stops. A recovered task's
   * files are rewritten from the start of Docker's log, which holds everything, so nothing
   * written while the agent was down is lost and nothing is copied twice.
   */
  private async copyLogs(task: RunningTask, fromStart: boolean, signal: AbortSignal): Promise<void> {
    const id = task.containerId ?? "";
    const paths = { stdout: join(task.sandbox, STDOUT_FILE), stderr: join(task.sandbox, STDERR_FILE) };
    let fds: { stdout: number; stderr: number };
    try {
      fds = { stdout: openLogSink(paths.stdout, fromStart), stderr: -1 };
    } catch (error) {
      this.log.warn("container_logs_refused", { taskId: task.taskId, error: errorMessage(error) });
      return;
    }
    try {
      fds.stderr = openLogSink(paths.stderr, fromStart);
    } catch (error) {
      closeSync(fds.stdout);
      this.log.warn("container_logs_refused", { taskId: task.taskId, error: errorMessage(error) });
      return;
    }
    try {
      const stream = await this.client.logs(id, true);
      const demux = new LogDemuxer((which, bytes) => writeSync(fds[which], bytes));
      const reader = stream.getReader();
      signal.addEventListener("abort", () => void reader.cancel().catch(() => undefined), { once: true });
      for (;;) {
        const { done, value } = await reader.read();
        if (done || signal.aborted) break;
        demux.push(value);
      }
    } catch (error) {
      if (!signal.aborted && !(error instanceof DockerUnavailable && this.closed)) {
        this.log.warn("container_logs_failed", { taskId: task.taskId, error: errorMessage(error) });
      }
    } finally {
      closeSync(fds.stdout);
      closeSync(fds.stderr);
    }
  }

  private capLogs(): void {
    for (const { task } of this.watched.values()) capTaskLogs(task, this.logCapBytes, this.log);
    if (this.watched.size === 0 && this.capTimer !== undefined) {
      clearInterval(this.capTimer);
      this.capTimer = undefined;
    }
  }
}

/** SIGKILLs a hung exec'd process and its descendants; an agent without the right (rootless Docker) leaves them be. */
function killHung(pid: number): void {
  for (const target of processTree(pid)) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // Gone already, or not ours to signal.
    }
  }
}

function tail(sandbox: string): string {
  return readTail(sandbox, STDERR_FILE, STDERR_TAIL_BYTES);
}

/** A stopped container's exit: Docker reports a kill by signal N as 128+N, like a shell. */
function statusOf(exitCode: number, oomKilled: boolean, stderrTail: string): ExitStatus {
  return oomKilled ? { kind: "exited", code: exitCode, stderrTail, oomKilled: true } : { kind: "exited", code: exitCode, stderrTail };
}
