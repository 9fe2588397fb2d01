import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";

interface RunTask {
  id: string;
  status: string;
  message?: string;
}
interface Run {
  id: string;
  status: string;
  tasks: RunTask[];
}
interface History {
  successCount: number;
  failureCount: number;
  failedFinishedRuns: { id: string; taskResults: { status: string; message: string | null }[] }[];
}
interface MarathonTask {
  id: string;
  state: string;
}

/**
 * Metronome jobs end to end: the control plane on workerd (its test clock on), one real Bun
 * agent, real processes for every task. Schedules are driven by the object's alarm; the test
 * clock only moves the schedule clock forward, so an every-minute schedule is seen firing twice
 * without waiting two minutes.
 */
describe("Metronome jobs on a real agent", () => {
  const cluster = new TestCluster({ DCX_TEST_CLOCK: "on" });
  const c = () => `/c/${cluster.clusterId}`;
  const run = (jobId: string, runId: string) => cluster.api<Run>("GET", `${c()}/v1/jobs/${jobId}/runs/${runId}`);
  const history = async (jobId: string) => (await cluster.api<{ history: History }>("GET", `${c()}/v1/jobs/${jobId}?embed=history`)).history;
  const finished = (jobId: string, runId: string) =>
    waitFor(
      `run ${runId} of ${jobId} to finish`,
      async () => {
        const r = await run(jobId, runId);
        return r.status === "SUCCESS" || r.status === "FAILED" ? r : undefined;
      },
      60_000,
      200,
    );
  const advanceClock = (seconds: number) => cluster.api<{ now: string }>("POST", `${c()}/debug/clock`, { advanceSeconds: seconds });
  const metronomeTime = (t: string) => Date.parse(t.replace("+0000", "Z"));

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
  });
  afterAll(() => cluster.stop());

  it("jobs and apps waiting for a small cluster both get their DRF share of it", async () => {
    // Demand from both frameworks is there before any agent, so one round shares the agent out.
    await cluster.api("POST", `${c()}/v2/apps`, { id: "/web", cmd: "sleep 1000", cpus: 0.5, mem: 32, instances: 4 });
    await cluster.api("POST", `${c()}/v1/jobs`, { id: "batch", run: { cmd: "sleep 1000", cpus: 0.5, mem: 32 } });
    for (let i = 0; i < 4; i++) await cluster.api("POST", `${c()}/v1/jobs/batch/runs`);
    cluster.startAgent("a", {
      token: await cluster.joinToken(),
      hostname: "node-a",
      advertiseIp: "127.0.0.2",
      resources: "cpus:2;mem:2048;disk:1024;ports:[31000-31099]",
    });
    const shares = await waitFor(
      "the agent's 2 cpus to be shared out",
      async () => {
        const tasks = (await cluster.api<{ tasks: MarathonTask[] }>("GET", `${c()}/v2/apps/web/tasks`)).tasks.filter((t) => t.state === "TASK_RUNNING");
        const runs = (await cluster.api<Run[]>("GET", `${c()}/v1/jobs/batch/runs`)).filter((r) => r.tasks.some((t) => t.status === "TASK_RUNNING"));
        return tasks.length + runs.length === 4 ? { apps: tasks.length, jobs: runs.length } : undefined;
      },
      60_000,
      200,
    );
    expect(shares).toEqual({ apps: 2, jobs: 2 });
    // What waits still waits: two app instances and two runs have no room.
    expect((await cluster.api<{ jobId: string; runs: unknown[] }[]>("GET", `${c()}/v1/queue`))[0]?.runs).toHaveLength(2);
    // The app's start deployment never completes on this cluster: it is deleted with force.
    await cluster.api("DELETE", `${c()}/v2/apps/web?force=true`);
    await cluster.api("DELETE", `${c()}/v1/jobs/batch?stopCurrentJobRuns=true`);
    await waitFor(
      "the agent to be free",
      async () => {
        const [slave] = (await cluster.api<{ slaves: { used_resources: { cpus: number } }[] }>("GET", `${c()}/master/slaves`)).slaves;
        return slave?.used_resources.cpus === 0 ? true : undefined;
      },
      60_000,
      200,
    );
  });

  it("a run whose task exits 0 succeeds", async () => {
    await cluster.api("POST", `${c()}/v1/jobs`, { id: "hello", run: { cmd: "echo hello from $MESOS_TASK_ID", cpus: 0.1, mem: 32 } });
    const started = await cluster.api<Run>("POST", `${c()}/v1/jobs/hello/runs`);
    const done = await finished("hello", started.id);
    expect(done.status).toBe("SUCCESS");
    expect(done.tasks).toMatchObject([{ status: "TASK_FINISHED", message: "exited with code 0" }]);
    expect((await history("hello")).successCount).toBe(1);
  });

  it("ON_FAILURE relaunches a failed task: a flaky job succeeds on its second task", async () => {
    // The task runs as nobody (a root agent's default): the marker goes where it may write.
    const shared = join(cluster.dir, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const marker = join(shared, "flaky-marker");
    await cluster.api("POST", `${c()}/v1/jobs`, {
      id: "flaky",
      run: { cmd: `test -f ${marker} || { touch ${marker}; echo first try fails >&2; exit 1; }`, cpus: 0.1, mem: 32, restart: { policy: "ON_FAILURE" } },
    });
    const started = await cluster.api<Run>("POST", `${c()}/v1/jobs/flaky/runs`);
    const done = await finished("flaky", started.id);
    expect(done.status).toBe("SUCCESS");
    expect(done.tasks.map((t) => t.status)).toEqual(["TASK_FAILED", "TASK_FINISHED"]);
    expect(done.tasks[0]?.message).toMatch(/exited with code 1.*first try fails/);
  });

  it("ON_FAILURE gives up after activeDeadlineSeconds: the run FAILS, its history keeps every exit status", async () => {
    await cluster.api("POST", `${c()}/v1/jobs`, {
      id: "broken",
      run: { cmd: "exit 3", cpus: 0.1, mem: 32, restart: { policy: "ON_FAILURE", activeDeadlineSeconds: 3 } },
    });
    const started = await cluster.api<Run>("POST", `${c()}/v1/jobs/broken/runs`);
    const done = await finished("broken", started.id);
    expect(done.status).toBe("FAILED");
    expect(done.tasks.length).toBeGreaterThanOrEqual(2);
    expect(done.tasks.every((t) => t.status === "TASK_FAILED")).toBe(true);
    const h = await history("broken");
    expect(h).toMatchObject({ successCount: 0, failureCount: 1 });
    expect(h.failedFinishedRuns[0]?.taskResults.map((t) => t.message)).toEqual(done.tasks.map(() => "exited with code 3"));
  });

  it("stopping a run kills its process", async () => {
    await cluster.api("POST", `${c()}/v1/jobs`, { id: "sleeper", run: { cmd: "sleep 1000", cpus: 0.1, mem: 32 } });
    const started = await cluster.api<Run>("POST", `${c()}/v1/jobs/sleeper/runs`);
    await waitFor("the sleeper to run", async () => ((await run("sleeper", started.id)).tasks[0]?.status === "TASK_RUNNING" ? true : undefined), 30_000, 200);
    expect((await cluster.api<Run>("POST", `${c()}/v1/jobs/sleeper/runs/${started.id}/actions/stop`)).status).toBe("FAILED");
    await waitFor("the task to be killed", async () => ((await run("sleeper", started.id)).tasks[0]?.status === "TASK_KILLED" ? true : undefined), 30_000, 200);
  });

  it("an every-minute schedule produces a run each minute, fired by the object's alarm", async () => {
    await cluster.api("POST", `${c()}/v1/jobs`, {
      id: "tick",
      run: { cmd: "echo tick", cpus: 0.1, mem: 32 },
      schedules: [{ id: "every-minute", cron: "* * * * *" }],
    });
    const [schedule] = await cluster.api<{ nextRunAt: string }[]>("GET", `${c()}/v1/jobs/tick/schedules`);
    const { now } = await advanceClock(0);
    // One second short of the due time: nothing yet, then the alarm starts the run by itself.
    await advanceClock(Math.max(0, (metronomeTime(schedule?.nextRunAt ?? "") - metronomeTime(now)) / 1000 - 1));
    await waitFor("the first scheduled run", async () => ((await history("tick")).successCount === 1 ? true : undefined), 30_000, 200);
    await advanceClock(60);
    await waitFor("the second scheduled run", async () => ((await history("tick")).successCount === 2 ? true : undefined), 30_000, 200);
    const [after] = await cluster.api<{ nextRunAt: string }[]>("GET", `${c()}/v1/jobs/tick/schedules`);
    expect(metronomeTime(after?.nextRunAt ?? "") - metronomeTime(schedule?.nextRunAt ?? "")).toBe(120_000);
  });

  it("answers invalid cron expressions and job specs with 422 and the field's path", async () => {
    const details = async (path: string, body: unknown) => {
      const res = await cluster.fetch("POST", `${c()}${path}`, body);
      expect(res.status).toBe(422);
      return ((await res.json()) as { details: { path: string; errors: string[] }[] }).details;
    };
    expect(await details("/v1/jobs", { id: "bad", run: { cmd: "x" }, schedules: [{ id: "s", cron: "*/0 * * * *" }] })).toMatchObject([
      { path: "/schedules/0/cron" },
    ]);
    expect(await details("/v1/jobs/tick/schedules", { id: "s2", cron: "0 0 * * * * *" })).toMatchObject([
      { path: "/cron", errors: [expect.stringMatching(/has 7 field/)] },
    ]);
    expect((await details("/v1/jobs", { id: "Bad_Id", run: { cmd: "x", mem: 1 } })).map((d) => d.path).sort()).toEqual(["/id", "/run/mem"]);
  });
});
