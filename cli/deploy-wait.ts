import { type Api, HttpError } from "./api.ts";
import { CliError } from "./errors.ts";
import { note } from "./output.ts";

/**
 * Following a Marathon deployment from the CLI: poll `/v2/deployments` and the app until the
 * deployment is gone (Marathon's "finished"), printing a progress line whenever the counts change.
 */

/** What `/v2/deployments?embed=waiting` shows of a deployment (`waiting`, why it has not finished, is DCX's addition). */
export interface DeploymentView {
  id: string;
  version?: string;
  affectedApps: string[];
  currentActions?: { action: string; app?: string }[];
  waiting?: { instances: number; reasons: Record<string, number>; delayedUntil?: string };
}

/** The fields of an app (`GET /v2/apps/{id}`) that progress is read from. */
export interface AppView {
  id: string;
  version: string;
  instances: number;
  tasksRunning: number;
  tasksHealthy: number;
  tasksStaged?: number;
  healthChecks?: unknown[];
  lastTaskFailure?: { taskId: string; state: string; message: string; timestamp: string };
}

/** A deployment started by one API call: its id, the app it acts on, and the app version it made. */
export interface Target {
  deploymentId: string;
  appId: string;
  version: string;
  /** True when the deployment stops the app (`dcx app remove`): done means gone. */
  removing?: boolean;
}

/** After this many tasks of the deployment failed, waiting on is pointless: Marathon retries forever with backoff. */
export const FAILED_TASKS_LIMIT = 3;

export type Step = { kind: "waiting"; line?: string } | { kind: "done"; line: string } | { kind: "failed"; error: CliError };

/**
 * The decision part of following a deployment, kept free of I/O so it can be tested: fed one
 * observation at a time, it says what to print and whether the wait is over.
 */
export class DeploymentWatch {
  private lastLine = "";
  private readonly failedTasks = new Set<string>();
  private lastFailure: AppView["lastTaskFailure"];
  /** Every reason the deployment's instances waited for: the server's latest ("declined (refuse filter)") hides the first ("insufficient cpus"). */
  private readonly reasons = new Set<string>();

  constructor(readonly target: Target) {}

  observe(deployment: DeploymentView | undefined, app: AppView | undefined): Step {
    this.noteFailure(app);
    for (const reason of Object.keys(deployment?.waiting?.reasons ?? {})) this.reasons.add(reason);
    const counts = app ? progressLine(app, deployment) : "";
    if (!deployment) return this.finished(app, counts);
    if (this.failedTasks.size >= FAILED_TASKS_LIMIT) {
      return {
        kind: "failed",
        error: new CliError(
          `deployment ${this.target.deploymentId} of ${this.target.appId} is failing: ${this.failedTasks.size} tasks failed since it started`,
          this.details(true),
        ),
      };
    }
    const line = counts && counts !== this.lastLine ? counts : undefined;
    if (line) this.lastLine = line;
    return { kind: "waiting", line };
  }

  /** The error for a wait that ran out of time: the last counts, why instances waited, the last failure. */
  timedOut(seconds: number): CliError {
    return new CliError(
      `deployment ${this.target.deploymentId} of ${this.target.appId} did not finish within ${seconds} s${this.lastLine ? ` (${this.lastLine})` : ""}`,
      this.details(true),
    );
  }

  private finished(app: AppView | undefined, counts: string): Step {
    const { target } = this;
    if (target.removing) return { kind: "done", line: `${target.appId}: removed` };
    if (!app) return { kind: "failed", error: new CliError(`${target.appId} was removed before deployment ${target.deploymentId} finished`) };
    // A deployment that ended with the app at another version was cancelled, rolled back or overridden (--force).
    if (app.version !== target.version) {
      return {
        kind: "failed",
        error: new CliError(
          `deployment ${target.deploymentId} of ${target.appId} did not complete: the app is now at version ${app.version} (cancelled, rolled back or replaced)`,
        ),
      };
    }
    // Marathon ends a deployment once its tasks have reached RUNNING; a task that then dies at once leaves it "done" with nothing running.
    if (this.failedTasks.size > 0 && app.tasksRunning < app.instances) {
      return {
        kind: "failed",
        error: new CliError(`deployment ${target.deploymentId} of ${target.appId} finished, but its tasks fail: ${counts}`, this.details(false)),
      };
    }
    return { kind: "done", line: `${target.appId}: deployed, ${counts}` };
  }

  /** Counts each task of this deployment that failed, by server time (the deployment's version is when it started). */
  private noteFailure(app: AppView | undefined): void {
    const failure = app?.lastTaskFailure;
    if (!failure || failure.timestamp < this.target.version) return;
    this.failedTasks.add(failure.taskId);
    this.lastFailure = failure;
  }

  /** The last failure and the reasons instances waited for; while the deployment is active, how to undo it. */
  private details(active: boolean): string[] {
    const f = this.lastFailure;
    const lines = f ? [`last failure: ${f.taskId} ${f.state}: ${f.message}`] : [];
    if (this.reasons.size > 0) lines.push(`instances waited for: ${[...this.reasons].join(", ")}`);
    if (active) lines.push(`the deployment is still active: see 'dcx deployment list', undo it with 'dcx deployment rollback ${this.target.deploymentId}'`);
    return lines;
  }
}

/** `2/3 running, 1/3 healthy` (healthy only for apps with health checks), plus why instances wait. */
export function progressLine(app: AppView, deployment: DeploymentView | undefined): string {
  const target = app.instances;
  const parts = [`${app.tasksRunning}/${target} running`];
  if ((app.healthChecks ?? []).length > 0) parts.push(`${app.tasksHealthy}/${target} healthy`);
  if (app.tasksStaged) parts.push(`${app.tasksStaged} staging`);
  const waiting = deployment?.waiting;
  if (waiting) {
    const reasons = Object.entries(waiting.reasons).map(([reason, n]) => `${reason} (${n})`);
    if (waiting.delayedUntil) reasons.push(`launch delayed until ${waiting.delayedUntil} after failures`);
    if (reasons.length > 0) parts.push(`waiting: ${reasons.join(", ")}`);
  }
  return parts.join(", ");
}

export interface FollowOptions {
  timeoutSeconds: number;
  pollMs?: number;
}

/**
 * Polls until the deployment is gone; prints progress on stderr and resolves with the final
 * line, or throws a CliError when it fails or runs out of time.
 */
export async function followDeployment(api: Api, clusterPath: (p: string) => string, target: Target, options: FollowOptions): Promise<string> {
  const watch = new DeploymentWatch(target);
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  for (;;) {
    const [deployments, app] = await Promise.all([
      api.get<DeploymentView[]>(clusterPath("/v2/deployments?embed=waiting")),
      api.get<{ app: AppView }>(clusterPath(`/v2/apps${target.appId}`)).then(
        (r) => r.app,
        (error: unknown) => {
          if (error instanceof HttpError && error.status === 404) return undefined;
          throw error;
        },
      ),
    ]);
    const step = watch.observe(
      deployments.find((d) => d.id === target.deploymentId),
      app,
    );
    if (step.kind === "failed") throw step.error;
    if (step.kind === "done") return step.line;
    if (step.line) note(`${target.appId}: ${step.line}`);
    if (Date.now() >= deadline) throw watch.timedOut(options.timeoutSeconds);
    await Bun.sleep(options.pollMs ?? 500);
  }
}
