import { describe, expect, test } from "bun:test";
import { type AppView, type DeploymentView, DeploymentWatch, FAILED_TASKS_LIMIT, progressLine } from "./deploy-wait.ts";

const VERSION = "2026-11-02T10:00:00.000Z";
const target = { deploymentId: "d1", appId: "/web", version: VERSION };
const app = (over: Partial<AppView> = {}): AppView => ({ id: "/web", version: VERSION, instances: 3, tasksRunning: 0, tasksHealthy: 0, ...over });
const deployment = (over: Partial<DeploymentView> = {}): DeploymentView => ({ id: "d1", affectedApps: ["/web"], ...over });
const failure = (taskId: string, timestamp = "2026-11-02T10:00:01.000Z") => ({ taskId, state: "TASK_FAILED", message: "exited with code 3", timestamp });

describe("progressLine", () => {
  test("counts running of the target, healthy only for apps with health checks", () => {
    expect(progressLine(app({ tasksRunning: 2 }), undefined)).toBe("2/3 running");
    expect(progressLine(app({ tasksRunning: 2, healthChecks: [{}] }), undefined)).toBe("2/3 running, 0/3 healthy");
  });

  test("adds staging tasks and why instances wait", () => {
    const waiting = { instances: 1, reasons: { "insufficient cpus": 2 }, delayedUntil: "2026-11-02T10:00:05.000Z" };
    expect(progressLine(app({ tasksRunning: 1, tasksStaged: 1 }), deployment({ waiting }))).toBe(
      "1/3 running, 1 staging, waiting: insufficient cpus (2), launch delayed until 2026-11-02T10:00:05.000Z after failures",
    );
  });
});

describe("DeploymentWatch", () => {
  test("prints a line only when the counts change, and is done when the deployment is gone", () => {
    const watch = new DeploymentWatch(target);
    expect(watch.observe(deployment(), app())).toEqual({ kind: "waiting", line: "0/3 running" });
    expect(watch.observe(deployment(), app())).toEqual({ kind: "waiting", line: undefined });
    expect(watch.observe(deployment(), app({ tasksRunning: 2 }))).toEqual({ kind: "waiting", line: "2/3 running" });
    expect(watch.observe(undefined, app({ tasksRunning: 3 }))).toEqual({ kind: "done", line: "/web: deployed, 3/3 running" });
  });

  test("fails when the deployment ended with the app at another version (rolled back or replaced)", () => {
    const step = new DeploymentWatch(target).observe(undefined, app({ version: "2026-11-02T10:00:09.000Z" }));
    expect(step.kind === "failed" && step.error.message).toBe(
      "deployment d1 of /web did not complete: the app is now at version 2026-11-02T10:00:09.000Z (cancelled, rolled back or replaced)",
    );
  });

  test("fails when the app disappeared, unless the deployment was removing it", () => {
    expect(new DeploymentWatch(target).observe(undefined, undefined).kind).toBe("failed");
    expect(new DeploymentWatch({ ...target, removing: true }).observe(undefined, undefined)).toEqual({ kind: "done", line: "/web: removed" });
  });

  test(`gives up after ${FAILED_TASKS_LIMIT} distinct tasks failed since the deployment started, ignoring older failures`, () => {
    const watch = new DeploymentWatch(target);
    expect(watch.observe(deployment(), app({ lastTaskFailure: failure("old", "2026-11-02T09:59:00.000Z") })).kind).toBe("waiting");
    expect(watch.observe(deployment(), app({ lastTaskFailure: failure("t1") })).kind).toBe("waiting");
    expect(watch.observe(deployment(), app({ lastTaskFailure: failure("t1") })).kind).toBe("waiting");
    expect(watch.observe(deployment(), app({ lastTaskFailure: failure("t2") })).kind).toBe("waiting");
    const step = watch.observe(deployment(), app({ lastTaskFailure: failure("t3") }));
    expect(step.kind).toBe("failed");
    if (step.kind !== "failed") return;
    expect(step.error.message).toBe("deployment d1 of /web is failing: 3 tasks failed since it started");
    expect(step.error.details).toEqual([
      "last failure: t3 TASK_FAILED: exited with code 3",
      "the deployment is still active: see 'dcx deployment list', undo it with 'dcx deployment rollback d1'",
    ]);
  });

  test("fails a deployment that finished while its tasks failed and are not all running", () => {
    const watch = new DeploymentWatch(target);
    watch.observe(deployment(), app({ tasksRunning: 3 }));
    const step = watch.observe(undefined, app({ tasksRunning: 2, lastTaskFailure: failure("t1") }));
    expect(step.kind === "failed" && step.error.message).toBe("deployment d1 of /web finished, but its tasks fail: 2/3 running");
  });

  test("on timeout, says the last counts and every reason instances waited for", () => {
    const watch = new DeploymentWatch(target);
    watch.observe(deployment({ waiting: { instances: 3, reasons: { "insufficient cpus": 1 } } }), app());
    watch.observe(deployment({ waiting: { instances: 3, reasons: { "declined (refuse filter)": 1 } } }), app());
    const error = watch.timedOut(3);
    expect(error.message).toBe("deployment d1 of /web did not finish within 3 s (0/3 running, waiting: declined (refuse filter) (1))");
    expect(error.details[0]).toBe("instances waited for: insufficient cpus, declined (refuse filter)");
  });
});
