import type { ReadinessResult, TaskLaunch } from "../../protocol/index.ts";
import type { RunningTask, TaskDriver } from "../drivers/driver.ts";
import { errorMessage } from "../log.ts";
import type { Logger } from "../log.ts";
import type { NewStatus } from "../outbox.ts";
import { probeHealth, probeReadiness } from "./probes.ts";
import type { ProbeContext, ProbeOutcome, ReadinessOutcome } from "./probes.ts";

/**
 * A running task's health and readiness checks, run on the agent. The agent judges nothing:
 * it sends results and the master, which knows the grace period, `maxConsecutiveFailures` and
 * whether it can hear this agent, decides what they mean and whether to kill.
 *
 * To keep status frames few, a health check reports every failure (the master counts failures
 * in a row) but a pass only when the check was not passing already: a healthy task sends
 * nothing. A readiness check reports when its result changes and stops probing once ready.
 *
 * Results are only queued while the agent has a session. During a partition they would pile
 * up in the durable outbox as stale news, and the master does not judge tasks it cannot hear
 * anyway; a result that was not queued is as if never reported, so the first one after the
 * session returns goes out whatever it is.
 */

/** Whether a health probe's outcome is worth a status update, given what the check last reported. */
export function healthReport(lastReported: boolean | undefined, outcome: ProbeOutcome): { healthy: boolean; cause?: string } | undefined {
  if (outcome.kind === "ignored") return undefined;
  if (outcome.kind === "fail") return { healthy: false, cause: outcome.cause };
  return lastReported === true ? undefined : { healthy: true };
}

/** A key that changes whenever a readiness result says something new. */
export function readinessKey(outcome: ReadinessOutcome): string {
  return JSON.stringify([outcome.result, outcome.cause]);
}

/** The checks of one task: a probe loop per check until `stop`. */
export class TaskChecks {
  private stopped = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly launch: TaskLaunch,
    private readonly context: ProbeContext,
    /** Queues a result; false when it was dropped (no session). */
    private readonly send: (status: Omit<NewStatus, "taskId" | "state">) => boolean,
    private readonly log: Logger,
  ) {}

  start(): void {
    (this.launch.healthChecks ?? []).forEach((check, index) => {
      let last: boolean | undefined;
      this.loop(check.delayMs, check.intervalMs, async () => {
        const report = healthReport(last, await probeHealth(check, this.context));
        if (report === undefined || this.stopped) return true;
        const sent = this.send({ healthy: report.healthy, healthCheck: index, ...(report.cause === undefined ? {} : { message: report.cause }) });
        last = sent ? report.healthy : undefined;
        return true;
      });
    });
    for (const check of this.launch.readinessChecks ?? []) {
      let last: string | undefined;
      this.loop(0, check.intervalMs, async () => {
        const outcome = await probeReadiness(check);
        if (this.stopped) return false;
        if (readinessKey(outcome) !== last) last = this.sendReadiness(outcome.result, outcome.cause) ? readinessKey(outcome) : undefined;
        // Marathon stops a readiness check once it is ready; so does the agent, once it has said so.
        return !(outcome.result.ready && last !== undefined);
      });
    }
  }

  /** Stops every loop; a probe under way finishes but reports nothing. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private sendReadiness(result: ReadinessResult, cause: string | undefined): boolean {
    return this.send({ readiness: result, ...(cause === undefined ? {} : { message: cause }) });
  }

  /** Probes after `delayMs`, then `intervalMs` after each probe ends, while `probe` says to go on. */
  private loop(delayMs: number, intervalMs: number, probe: () => Promise<boolean>): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      let again = true;
      try {
        again = await probe();
      } catch (error) {
        this.log.error("task_check_crashed", { taskId: this.launch.taskId, error: errorMessage(error) });
      }
      if (again) this.after(intervalMs, tick);
    };
    this.after(delayMs, tick);
  }

  private after(ms: number, run: () => Promise<void>): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}

/** The checks of every running task of an agent; results go to `send` (the outbox) while `online`. */
export class CheckRunner {
  private readonly running = new Map<string, TaskChecks>();

  constructor(
    private readonly send: (status: NewStatus) => void,
    private readonly online: () => boolean,
    private readonly log: Logger,
  ) {}

  /** Starts a task's checks (none when its launch has none); the task must be running. */
  start(launch: TaskLaunch, driver: TaskDriver, task: RunningTask): void {
    if (!launch.healthChecks?.length && !launch.readinessChecks?.length) return;
    this.stop(launch.taskId);
    const context = { runCommand: (command: string, timeoutMs: number) => driver.runCommand(task, launch, command, timeoutMs) };
    const queue = (status: Omit<NewStatus, "taskId" | "state">) => {
      if (!this.online()) return false;
      this.send({ taskId: launch.taskId, state: "TASK_RUNNING", ...status });
      return true;
    };
    const checks = new TaskChecks(launch, context, queue, this.log);
    this.running.set(launch.taskId, checks);
    checks.start();
  }

  /** Stops a task's checks: it is being killed, or has ended. */
  stop(taskId: string): void {
    this.running.get(taskId)?.stop();
    this.running.delete(taskId);
  }

  stopAll(): void {
    for (const taskId of [...this.running.keys()]) this.stop(taskId);
  }
}
