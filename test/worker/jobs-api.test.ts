import { describe, expect, it } from "vitest";
import { type Account, call, expectInvalid, signUp } from "./helpers.ts";

/** Metronome's /v1 API without agents: jobs, schedules, validation, and the errors clients see. */

const req = (a: Account, path: string, method = "GET", json?: unknown) =>
  call(`/c/${a.cluster.id}/v1${path}`, { method, token: a.token, ...(json === undefined ? {} : { json }) });
const body = async <T>(res: Response | Promise<Response>) => (await (await res).json()) as T;

const JOB = { id: "prod.backup", description: "nightly backup", labels: { owner: "ops" }, run: { cmd: "sleep 1", cpus: 0.1, mem: 32 } };

describe("Metronome /v1/jobs", () => {
  it("creates, lists, gets, updates and deletes a job", async () => {
    const a = await signUp();
    const created = await req(a, "/jobs", "POST", JOB);
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({
      id: "prod.backup",
      description: "nightly backup",
      labels: { owner: "ops" },
      run: {
        cmd: "sleep 1",
        cpus: 0.1,
        mem: 32,
        disk: 0,
        gpus: 0,
        env: {},
        placement: { constraints: [] },
        volumes: [],
        maxLaunchDelay: 3600,
        restart: { policy: "NEVER" },
        artifacts: [],
      },
    });
    expect((await req(a, "/jobs", "POST", JOB)).status).toBe(409);
    expect((await body<{ id: string }[]>(req(a, "/jobs"))).map((j) => j.id)).toEqual(["prod.backup"]);
    const replaced = await req(a, "/jobs/prod.backup", "PUT", { ...JOB, run: { ...JOB.run, cmd: "sleep 2" } });
    expect(replaced.status).toBe(200);
    expect((await body<{ run: { cmd: string } }>(req(a, "/jobs/prod.backup"))).run.cmd).toBe("sleep 2");
    // PUT takes its id from the path; a different one in the body is an error.
    await expectInvalid(await req(a, "/jobs/prod.backup", "PUT", { ...JOB, id: "other" }), "/id");
    expect((await req(a, "/jobs/nope", "PUT", { ...JOB, id: "nope" })).status).toBe(404);
    const deleted = await req(a, "/jobs/prod.backup", "DELETE");
    expect(deleted.status).toBe(200);
    expect((await body<{ id: string }>(deleted)).id).toBe("prod.backup");
    const gone = await req(a, "/jobs/prod.backup");
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ message: "Job 'prod.backup' does not exist" });
  });

  it("embeds schedules, active runs and history on request, in Metronome's key order", async () => {
    const a = await signUp();
    await req(a, "/jobs", "POST", { ...JOB, schedules: [{ id: "nightly", cron: "0 2 * * *", timezone: "Europe/Berlin" }] });
    const job = await body<Record<string, unknown>>(req(a, "/jobs/prod.backup?embed=activeRuns&embed=schedules&embed=history&embed=historySummary"));
    expect(Object.keys(job)).toEqual(["id", "description", "labels", "run", "schedules", "activeRuns", "history", "historySummary"]);
    expect(job.schedules).toEqual([
      {
        id: "nightly",
        cron: "0 2 * * *",
        timezone: "Europe/Berlin",
        startingDeadlineSeconds: 900,
        concurrencyPolicy: "ALLOW",
        enabled: true,
        nextRunAt: expect.stringMatching(/T0[01]:00:00\.000\+0000$/),
      },
    ]);
    expect(job.activeRuns).toEqual([]);
    expect(job.history).toEqual({
      successCount: 0,
      failureCount: 0,
      lastSuccessAt: null,
      lastFailureAt: null,
      successfulFinishedRuns: [],
      failedFinishedRuns: [],
    });
    expect(job.historySummary).toEqual({ successCount: 0, failureCount: 0, lastSuccessAt: null, lastFailureAt: null });
    const plain = await body<Record<string, unknown>>(req(a, "/jobs/prod.backup"));
    expect(Object.keys(plain)).toEqual(["id", "description", "labels", "run"]);
    const bad = await req(a, "/jobs?embed=everything");
    expect(bad.status).toBe(400);
    expect((await body<{ message: string }>(bad)).message).toMatch(/Unknown embed 'everything'/);
  });

  it("answers bad job specs and cron expressions with 422 and the field's path, storing nothing", async () => {
    const a = await signUp();
    await expectInvalid(await req(a, "/jobs", "POST", { ...JOB, id: "Prod" }), "/id");
    await expectInvalid(await req(a, "/jobs", "POST", { ...JOB, run: { ...JOB.run, mem: 8 } }), "/run/mem");
    await expectInvalid(await req(a, "/jobs", "POST", { ...JOB, run: { cpus: 1 } }), "/run/cmd");
    await expectInvalid(await req(a, "/jobs", "POST", { ...JOB, run: { ...JOB.run, restart: { policy: "SOMETIMES" } } }), "/run/restart/policy");
    await expectInvalid(await req(a, "/jobs", "POST", { ...JOB, schedules: [{ id: "s", cron: "0 0 32 * *" }] }), "/schedules/0/cron");
    await expectInvalid(await req(a, "/jobs", "POST", { ...JOB, schedules: [{ id: "s", cron: "*/5 * * *" }] }), "/schedules/0/cron");
    await expectInvalid(
      await req(a, "/jobs", "POST", { ...JOB, schedules: [{ id: "s", cron: "* * * * *", timezone: "Europe/Atlantis" }] }),
      "/schedules/0/timezone",
    );
    const notJson = await call(`/c/${a.cluster.id}/v1/jobs`, { method: "POST", token: a.token, headers: { "Content-Type": "application/json" }, body: "{" });
    expect(notJson.status).toBe(400);
    const array = await req(a, "/jobs", "POST", [JOB]);
    expect(array.status).toBe(422);
    expect(await body<unknown[]>(req(a, "/jobs"))).toEqual([]);
  });

  it("manages a job's schedule: create, get, replace, delete; one per job; bad crons refused", async () => {
    const a = await signUp();
    await req(a, "/jobs", "POST", JOB);
    const created = await req(a, "/jobs/prod.backup/schedules", "POST", { id: "hourly", cron: "0 * * * *" });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      id: "hourly",
      cron: "0 * * * *",
      timezone: "UTC",
      concurrencyPolicy: "ALLOW",
      nextRunAt: expect.stringMatching(/:00:00\.000\+0000$/),
    });
    const second = await req(a, "/jobs/prod.backup/schedules", "POST", { id: "daily", cron: "0 0 * * *" });
    expect(second.status).toBe(409);
    expect((await body<{ message: string }>(second)).message).toMatch(/at most one schedule/);
    await expectInvalid(await req(a, "/jobs/prod.backup/schedules/hourly", "PUT", { cron: "0 * * * * * *" }), "/cron");
    const disabled = await body<{ enabled: boolean; nextRunAt: string | null }>(
      req(a, "/jobs/prod.backup/schedules/hourly", "PUT", { cron: "30 * * * *", enabled: false }),
    );
    expect(disabled).toMatchObject({ enabled: false, nextRunAt: null });
    expect(await body(req(a, "/jobs/prod.backup/schedules/hourly"))).toMatchObject({ cron: "30 * * * *" });
    expect((await body<unknown[]>(req(a, "/jobs/prod.backup/schedules"))).length).toBe(1);
    expect((await req(a, "/jobs/prod.backup/schedules/hourly", "DELETE")).status).toBe(200);
    expect((await req(a, "/jobs/prod.backup/schedules/hourly")).status).toBe(404);
    expect((await req(a, "/jobs/prod.backup/schedules/hourly", "DELETE")).status).toBe(404);
    expect((await req(a, "/jobs/nope/schedules")).status).toBe(404);
    expect((await req(a, "/jobs/nope/schedules", "POST", { id: "x", cron: "* * * * *" })).status).toBe(404);
  });

  it("answers runs of unknown jobs and unknown runs with 404, and GET /v1/queue with what waits", async () => {
    const a = await signUp();
    expect((await req(a, "/jobs/nope/runs", "POST")).status).toBe(404);
    expect((await req(a, "/jobs/nope/runs")).status).toBe(404);
    await req(a, "/jobs", "POST", JOB);
    expect((await req(a, "/jobs/prod.backup/runs/20260101000000abcde")).status).toBe(404);
    expect((await req(a, "/jobs/prod.backup/runs/20260101000000abcde/actions/stop", "POST")).status).toBe(404);
    // No agent: the run waits in the queue.
    const run = await body<{ id: string; status: string; tasks: unknown[] }>(req(a, "/jobs/prod.backup/runs", "POST"));
    expect(run).toMatchObject({ status: "STARTING", tasks: [] });
    expect(await body(req(a, "/queue"))).toEqual([{ jobId: "prod.backup", runs: [{ runId: run.id }] }]);
  });

  it("keeps the test clock behind DCX_TEST_CLOCK and validates its body", async () => {
    const a = await signUp();
    await expectInvalid(await call(`/c/${a.cluster.id}/debug/clock`, { method: "POST", token: a.token, json: { advanceSeconds: -1 } }), "/advanceSeconds");
    const moved = await body<{ offsetMs: number }>(call(`/c/${a.cluster.id}/debug/clock`, { method: "POST", token: a.token, json: { advanceSeconds: 90 } }));
    expect(moved.offsetMs).toBe(90_000);
  });
});
