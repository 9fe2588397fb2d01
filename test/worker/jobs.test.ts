import { describe, expect, it } from "vitest";
import { type Account, type TestSocket, call, joinAgent, signUp } from "./helpers.ts";

/**
 * Job runs against protocol-level agents: launches, status updates, SUCCESS and FAILED,
 * ON_FAILURE relaunches, stop, history, schedules driven by the object's alarm with the test
 * clock, and DRF between jobs and apps.
 */

interface Launch {
  type: "launch";
  tasks: { taskId: string; name: string; env: Record<string, string>; command?: { shell?: string }; resources: { cpus: number } }[];
}
interface Run {
  id: string;
  jobId: string;
  status: string;
  completedAt: string | null;
  tasks: { id: string; status: string; completedAt: string | null; message?: string }[];
}
interface History {
  successCount: number;
  failureCount: number;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  successfulFinishedRuns: { id: string; tasks: string[]; taskResults: { id: string; status: string; message: string | null }[] }[];
  failedFinishedRuns: { id: string; tasks: string[]; taskResults: { id: string; status: string; message: string | null }[] }[];
}

const v1 = (a: Account, path: string, method = "GET", json?: unknown) =>
  call(`/c/${a.cluster.id}/v1${path}`, { method, token: a.token, ...(json === undefined ? {} : { json }) });
const body = async <T>(res: Response | Promise<Response>) => (await (await res).json()) as T;
const run = (a: Account, jobId: string, runId: string) => body<Run>(v1(a, `/jobs/${jobId}/runs/${runId}`));
const history = async (a: Account, jobId: string) => (await body<{ history: History }>(v1(a, `/jobs/${jobId}?embed=history`))).history;
const advanceClock = (a: Account, seconds: number) =>
  body<{ offsetMs: number; now: string }>(call(`/c/${a.cluster.id}/debug/clock`, { method: "POST", token: a.token, json: { advanceSeconds: seconds } }));

let updateSeq = 0;
async function report(socket: TestSocket, taskIds: string[], state: string, message?: string): Promise<void> {
  const updates = taskIds.map((taskId) => ({ updateId: `job-${updateSeq++}`, taskId, state, timestamp: Date.now(), ...(message ? { message } : {}) }));
  socket.send({ type: "status", updates });
  await socket.nextOfType("ack");
}

/** Asserts no frame of `type` arrives within `ms`. */
async function noFrame(socket: TestSocket, type: string, ms: number): Promise<void> {
  await expect(socket.nextOfType(type, ms)).rejects.toThrow(/timed out/);
}

const JOB = (id: string, run: Record<string, unknown> = {}) => ({ id, run: { cmd: "echo hi", cpus: 0.5, mem: 32, ...run } });

describe("job runs", () => {
  it("a run launches a task with Metronome's ids, goes ACTIVE, and SUCCEEDS when the task finishes", async () => {
    const a = await signUp();
    const { socket, agentId } = await joinAgent(a);
    await v1(a, "/jobs", "POST", JOB("prod.report", { env: { MODE: "full" } }));
    const started = await v1(a, "/jobs/prod.report/runs", "POST");
    expect(started.status).toBe(201);
    const created = (await started.json()) as Run;
    expect(created).toMatchObject({ jobId: "prod.report", status: "STARTING", completedAt: null, tasks: [] });
    expect(created.id).toMatch(/^\d{14}[a-z0-9]{5}$/);
    const launch = await socket.nextOfType<Launch>("launch");
    const task = launch.tasks[0];
    expect(task?.taskId).toMatch(new RegExp(`^prod\\.report_${created.id}\\.[0-9a-f-]{36}$`));
    expect(task).toMatchObject({ name: "prod.report", command: { shell: "echo hi" }, resources: { cpus: 0.5 } });
    expect(task?.env).toMatchObject({ MODE: "full", MESOS_TASK_ID: task?.taskId, HOST: "node-1" });
    expect(await run(a, "prod.report", created.id)).toMatchObject({
      status: "ACTIVE",
      tasks: [{ id: task?.taskId, status: "TASK_STAGING", completedAt: null }],
    });
    await report(socket, [task?.taskId ?? ""], "TASK_RUNNING");
    await expect.poll(async () => (await run(a, "prod.report", created.id)).tasks[0]?.status).toBe("TASK_RUNNING");
    const tasks = await body<{ frameworks: { name: string; tasks: { id: string; name: string; slave_id: string }[] }[] }>(
      call(`/c/${a.cluster.id}/master/frameworks`, { token: a.token }),
    );
    expect(tasks.frameworks.find((f) => f.name === "metronome")?.tasks).toMatchObject([{ id: task?.taskId, name: "prod.report", slave_id: agentId }]);
    expect(tasks.frameworks.find((f) => f.name === "marathon")?.tasks).toEqual([]);
    // Mesos-DNS names the task under its framework: `{job}.metronome.mesos`, never `.marathon`.
    const dns = (name: string) => body<unknown[]>(call(`/c/${a.cluster.id}/mesos_dns/v1/hosts/${name}`, { token: a.token }));
    expect(await dns("prod-report.metronome.mesos")).toEqual([{ host: "prod-report.metronome.mesos.", ip: "10.0.0.1" }]);
    expect(await dns("prod-report.marathon.mesos")).toEqual([{ host: "", ip: "" }]);
    await report(socket, [task?.taskId ?? ""], "TASK_FINISHED", "exited with code 0");
    await expect.poll(async () => (await run(a, "prod.report", created.id)).status).toBe("SUCCESS");
    const done = await run(a, "prod.report", created.id);
    expect(done.completedAt).toMatch(/\+0000$/);
    expect(done.tasks).toMatchObject([{ status: "TASK_FINISHED", message: "exited with code 0", completedAt: expect.any(String) }]);
    expect(await body(v1(a, "/jobs/prod.report/runs"))).toEqual([]);
    const h = await history(a, "prod.report");
    expect(h).toMatchObject({ successCount: 1, failureCount: 0, lastSuccessAt: done.completedAt, failedFinishedRuns: [] });
    expect(h.successfulFinishedRuns).toEqual([
      {
        id: created.id,
        createdAt: expect.any(String),
        finishedAt: done.completedAt,
        tasks: [task?.taskId],
        taskResults: [{ id: task?.taskId, status: "TASK_FINISHED", message: "exited with code 0" }],
      },
    ]);
  });

  it("NEVER: a failed task fails the run, and the history keeps its exit status", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", JOB("fails"));
    const created = await body<Run>(v1(a, "/jobs/fails/runs", "POST"));
    const [task] = (await socket.nextOfType<Launch>("launch")).tasks;
    await report(socket, [task?.taskId ?? ""], "TASK_FAILED", "exited with code 3");
    await expect.poll(async () => (await run(a, "fails", created.id)).status).toBe("FAILED");
    const h = await history(a, "fails");
    expect(h).toMatchObject({ successCount: 0, failureCount: 1, lastSuccessAt: null });
    expect(h.failedFinishedRuns[0]?.taskResults).toEqual([{ id: task?.taskId, status: "TASK_FAILED", message: "exited with code 3" }]);
    await noFrame(socket, "launch", 1500);
  });

  it("ON_FAILURE relaunches a failed task after a backoff, in the same run", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", JOB("flaky", { restart: { policy: "ON_FAILURE", activeDeadlineSeconds: 120 } }));
    const created = await body<Run>(v1(a, "/jobs/flaky/runs", "POST"));
    const [first] = (await socket.nextOfType<Launch>("launch")).tasks;
    const failedAt = Date.now();
    await report(socket, [first?.taskId ?? ""], "TASK_FAILED", "exited with code 1");
    const [second] = (await socket.nextOfType<Launch>("launch", 5000)).tasks;
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(900);
    expect(second?.taskId).not.toBe(first?.taskId);
    expect(second?.taskId).toContain(`flaky_${created.id}.`);
    expect((await run(a, "flaky", created.id)).status).toBe("ACTIVE");
    await report(socket, [second?.taskId ?? ""], "TASK_FINISHED");
    await expect.poll(async () => (await run(a, "flaky", created.id)).status).toBe("SUCCESS");
    expect((await run(a, "flaky", created.id)).tasks.map((t) => t.status)).toEqual(["TASK_FAILED", "TASK_FINISHED"]);
  });

  it("stop fails the run at once and kills its task; a finished run cannot be stopped", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", JOB("long", { cmd: "sleep 1000", restart: { policy: "ON_FAILURE" }, taskKillGracePeriodSeconds: 7 }));
    const created = await body<Run>(v1(a, "/jobs/long/runs", "POST"));
    const [task] = (await socket.nextOfType<Launch>("launch")).tasks;
    await report(socket, [task?.taskId ?? ""], "TASK_RUNNING");
    const stopped = await v1(a, `/jobs/long/runs/${created.id}/actions/stop`, "POST");
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ id: created.id, status: "FAILED", completedAt: expect.any(String) });
    const kill = await socket.nextOfType<{ taskIds: string[]; gracePeriodMs: number }>("kill");
    expect(kill).toMatchObject({ taskIds: [task?.taskId], gracePeriodMs: 7000 });
    await report(socket, [task?.taskId ?? ""], "TASK_KILLED");
    await expect.poll(async () => (await run(a, "long", created.id)).tasks[0]?.status).toBe("TASK_KILLED");
    // ON_FAILURE does not bring a stopped run back.
    await noFrame(socket, "launch", 1500);
    expect((await v1(a, `/jobs/long/runs/${created.id}/actions/stop`, "POST")).status).toBe(409);
    expect((await history(a, "long")).failureCount).toBe(1);
  });

  it("deleting a job with active runs needs stopCurrentJobRuns=true, which kills their tasks", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", JOB("doomed", { cmd: "sleep 1000" }));
    await v1(a, "/jobs/doomed/runs", "POST");
    const [task] = (await socket.nextOfType<Launch>("launch")).tasks;
    const refused = await v1(a, "/jobs/doomed", "DELETE");
    expect(refused.status).toBe(409);
    expect((await body<{ message: string }>(refused)).message).toBe("There are active job runs. Override with stopCurrentJobRuns=true");
    expect((await v1(a, "/jobs/doomed?stopCurrentJobRuns=true", "DELETE")).status).toBe(200);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([task?.taskId]);
    expect((await v1(a, "/jobs/doomed")).status).toBe(404);
  });
});

describe("job schedules on the object's alarm", () => {
  /** Seconds from the schedule clock's now to the schedule's next due time. */
  async function secondsToDue(a: Account, jobId: string): Promise<number> {
    const [schedule] = await body<{ nextRunAt: string }[]>(v1(a, `/jobs/${jobId}/schedules`));
    const { now } = await advanceClock(a, 0);
    return (Date.parse(schedule?.nextRunAt.replace("+0000", "Z") ?? "") - Date.parse(now.replace("+0000", "Z"))) / 1000;
  }

  it("an every-minute schedule starts a run each minute of the schedule clock, fired by the alarm", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", { ...JOB("tick"), schedules: [{ id: "every-minute", cron: "* * * * *" }] });
    await noFrame(socket, "launch", 300);
    // Move to one second before the due time: the object's own alarm must start the run.
    await advanceClock(a, Math.max(0, (await secondsToDue(a, "tick")) - 1));
    expect(await body(v1(a, "/jobs/tick/runs"))).toEqual([]);
    const first = await socket.nextOfType<Launch>("launch", 5000);
    expect(first.tasks[0]?.taskId).toMatch(/^tick_/);
    await report(socket, [first.tasks[0]?.taskId ?? ""], "TASK_FINISHED");
    await advanceClock(a, 60);
    const second = await socket.nextOfType<Launch>("launch", 5000);
    expect(second.tasks[0]?.taskId).not.toBe(first.tasks[0]?.taskId);
    await report(socket, [second.tasks[0]?.taskId ?? ""], "TASK_FINISHED");
    await expect.poll(async () => (await history(a, "tick")).successCount).toBe(2);
  });

  it("a due time missed by more than startingDeadlineSeconds is skipped; one within it starts once, for the latest", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", { ...JOB("strict"), schedules: [{ id: "s", cron: "* * * * *", startingDeadlineSeconds: 30 }] });
    const [before] = await body<{ nextRunAt: string }[]>(v1(a, "/jobs/strict/schedules"));
    // Asleep for five minutes and 45 s past a due time: every due time is past its deadline.
    await advanceClock(a, (await secondsToDue(a, "strict")) + 5 * 60 + 45);
    await noFrame(socket, "launch", 1000);
    expect(await body(v1(a, "/jobs/strict/runs"))).toEqual([]);
    const [after] = await body<{ nextRunAt: string }[]>(v1(a, "/jobs/strict/schedules"));
    expect(Date.parse(after?.nextRunAt.replace("+0000", "Z") ?? "") - Date.parse(before?.nextRunAt.replace("+0000", "Z") ?? "")).toBe(6 * 60_000);
    // Ten seconds past the next due time: within the deadline, one run starts.
    await advanceClock(a, 15 + 10);
    expect((await socket.nextOfType<Launch>("launch")).tasks).toHaveLength(1);
    expect(await body<unknown[]>(v1(a, "/jobs/strict/runs"))).toHaveLength(1);
  });

  it("FORBID: a due time waits for the active run, and starts when it ends within the deadline", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", { ...JOB("single"), schedules: [{ id: "s", cron: "* * * * *", concurrencyPolicy: "FORBID", startingDeadlineSeconds: 120 }] });
    await advanceClock(a, await secondsToDue(a, "single"));
    const [first] = (await socket.nextOfType<Launch>("launch")).tasks;
    await report(socket, [first?.taskId ?? ""], "TASK_RUNNING");
    await advanceClock(a, 60);
    await noFrame(socket, "launch", 1000);
    expect(await body<unknown[]>(v1(a, "/jobs/single/runs"))).toHaveLength(1);
    await report(socket, [first?.taskId ?? ""], "TASK_FINISHED");
    const [second] = (await socket.nextOfType<Launch>("launch", 3000)).tasks;
    expect(second?.taskId).not.toBe(first?.taskId);
  });
});

describe("job schedules: replacing and giving up", () => {
  async function toDue(a: Account, jobId: string): Promise<void> {
    const [schedule] = await body<{ nextRunAt: string }[]>(v1(a, `/jobs/${jobId}/schedules`));
    const { now } = await advanceClock(a, 0);
    await advanceClock(a, Math.max(0, (Date.parse(schedule?.nextRunAt.replace("+0000", "Z") ?? "") - Date.parse(now.replace("+0000", "Z"))) / 1000));
  }

  it("REPLACE stops the active run and starts the due one", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", { ...JOB("fresh", { cmd: "sleep 1000" }), schedules: [{ id: "s", cron: "* * * * *", concurrencyPolicy: "REPLACE" }] });
    await toDue(a, "fresh");
    const [first] = (await socket.nextOfType<Launch>("launch")).tasks;
    const [oldRun] = await body<Run[]>(v1(a, "/jobs/fresh/runs"));
    await advanceClock(a, 60);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([first?.taskId]);
    const [second] = (await socket.nextOfType<Launch>("launch")).tasks;
    expect(second?.taskId).not.toBe(first?.taskId);
    expect((await run(a, "fresh", oldRun?.id ?? "")).status).toBe("FAILED");
    expect((await body<Run[]>(v1(a, "/jobs/fresh/runs"))).map((r) => r.status)).toEqual(["ACTIVE"]);
  });

  it("a scheduled run that cannot launch by its starting deadline FAILS on the alarm", async () => {
    const a = await signUp();
    // No agent: nothing can launch.
    await v1(a, "/jobs", "POST", { ...JOB("stuck"), schedules: [{ id: "s", cron: "* * * * *", startingDeadlineSeconds: 1 }] });
    await toDue(a, "stuck");
    const [waiting] = await body<Run[]>(v1(a, "/jobs/stuck/runs"));
    expect(waiting?.status).toBe("STARTING");
    await expect.poll(async () => (await run(a, "stuck", waiting?.id ?? "")).status, { timeout: 4000 }).toBe("FAILED");
    expect((await history(a, "stuck")).failureCount).toBe(1);
  });
});

describe("job history", () => {
  it("keeps the last 10 finished runs of an outcome and counts them all", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    await v1(a, "/jobs", "POST", JOB("many", { cpus: 0.1 }));
    for (let i = 0; i < 12; i++) await v1(a, "/jobs/many/runs", "POST");
    const ids: string[] = [];
    while (ids.length < 12) ids.push(...(await socket.nextOfType<Launch>("launch")).tasks.map((t) => t.taskId));
    await report(socket, ids, "TASK_FINISHED");
    await expect.poll(async () => (await history(a, "many")).successCount).toBe(12);
    expect((await history(a, "many")).successfulFinishedRuns).toHaveLength(10);
  });
});

describe("DRF between jobs and apps", () => {
  it("apps and job runs waiting for the same small agent each get half of it", async () => {
    const a = await signUp();
    await call(`/c/${a.cluster.id}/v2/apps`, { method: "POST", token: a.token, json: { id: "/web", cmd: "sleep 1000", cpus: 1, mem: 32, instances: 4 } });
    await v1(a, "/jobs", "POST", JOB("batch", { cmd: "sleep 1000", cpus: 1 }));
    for (let i = 0; i < 4; i++) expect((await v1(a, "/jobs/batch/runs", "POST")).status).toBe(201);
    const { socket } = await joinAgent(a, { resources: { cpus: 4, mem: 8192, disk: 1000, gpus: 0, ports: [[31000, 31100]] } });
    const launch = await socket.nextOfType<Launch>("launch");
    const names = launch.tasks.map((t) => (t.name === "batch" ? "job" : "app")).sort();
    expect(names).toEqual(["app", "app", "job", "job"]);
    const queue = await body<{ jobId: string; runs: unknown[] }[]>(v1(a, "/queue"));
    expect(queue).toEqual([{ jobId: "batch", runs: [expect.anything(), expect.anything()] }]);
  });
});
