import { Hono, type Context } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { EMBEDS, type Embed } from "../cluster/frameworks/metronome/views.ts";
import { JobId, ScheduleId, parseJob, parseSchedule } from "../cluster/frameworks/metronome/job-spec.ts";
import { ApiError, notFound, validationError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody } from "../http/middleware.ts";
import { parseJobReplacement, sameId } from "../operations/jobs.ts";
import { acting, cluster, flag, unwrap } from "./marathon/outcome.ts";
import { MARATHON_API_VERSION } from "./marathon/system.ts";
import { dropwizardMetrics } from "./dropwizard.ts";

/** Metronome's REST API (`/v1`, reference §2), under `/c/:cluster`. */

/** Any JSON object: the job and schedule schemas run after, so their errors carry Metronome's paths. */
const AnyObject = z.record(z.string(), z.unknown(), { message: "expected a JSON object" });

/** `?embed=` values (repeatable); an unknown one is a 400 naming it, not silently ignored. */
function embeds(c: Context<AppEnv>): Embed[] {
  const wanted = (c.req.queries("embed") ?? []).flatMap((e) => e.split(","));
  const unknown = wanted.find((e) => !(EMBEDS as readonly string[]).includes(e));
  if (unknown !== undefined)
    throw new ApiError("malformed", `Unknown embed '${unknown}': use ${EMBEDS.join(", ")}.`, [
      { path: "embed", errors: [`'${unknown}' is not one of ${EMBEDS.join(", ")}`] },
    ]);
  return wanted as Embed[];
}

/** A job id from the path; an id that cannot exist is answered like an unknown one. */
function jobId(c: Context<AppEnv>): string {
  const id = c.req.param("jobId") ?? "";
  if (!JobId.safeParse(id).success) throw notFound(`Job '${id}' does not exist`);
  return id;
}

const scheduleRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const schedules = await cluster(c).jobSchedules(jobId(c));
    if (!schedules) throw notFound(`Job '${jobId(c)}' does not exist`);
    return c.json(schedules);
  })
  .post("/", jsonBody(AnyObject), async (c) => {
    const parsed = parseSchedule(c.req.valid("json"));
    if (!parsed.ok) throw validationError(parsed.details);
    return c.json(unwrap(await acting(c).jobScheduleCreate(jobId(c), parsed.schedule)), 201);
  })
  .get("/:scheduleId", async (c) => {
    const id = c.req.param("scheduleId");
    const found = (await cluster(c).jobSchedules(jobId(c)))?.find((s) => s.id === id);
    if (!found) throw notFound(`Schedule '${id}' does not exist`);
    return c.json(found);
  })
  .put("/:scheduleId", jsonBody(AnyObject), async (c) => {
    const id = c.req.param("scheduleId");
    if (!ScheduleId.safeParse(id).success) throw notFound(`Schedule '${id}' does not exist`);
    const body = c.req.valid("json");
    sameId(body, id, "schedule");
    const parsed = parseSchedule({ ...body, id });
    if (!parsed.ok) throw validationError(parsed.details);
    return c.json(unwrap(await acting(c).jobScheduleReplace(jobId(c), parsed.schedule)));
  })
  .delete("/:scheduleId", async (c) => c.json(unwrap(await acting(c).jobScheduleDelete(jobId(c), c.req.param("scheduleId")))));

const runRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const runs = await cluster(c).jobRuns(jobId(c));
    if (!runs) throw notFound(`Job '${jobId(c)}' does not exist`);
    return c.json(runs);
  })
  // Metronome starts a run from an empty POST; a body, if any, must still be JSON.
  .post("/", jsonBody(AnyObject), async (c) => c.json(unwrap(await acting(c).jobStartRun(jobId(c))), 201))
  .get("/:runId", async (c) => {
    const run = await cluster(c).jobRun(jobId(c), c.req.param("runId"));
    if (!run) throw notFound(`JobRun '${c.req.param("runId")}' of job '${jobId(c)}' does not exist`);
    return c.json(run);
  })
  // `actions/stop` is Metronome's route; its RAML spells it `action/stop`, which older clients call.
  .post("/:runId/:action{actions?}/stop", async (c) => c.json(unwrap(await acting(c).jobStopRun(jobId(c), c.req.param("runId")))));

const jobRoutes = new Hono<AppEnv>()
  .get("/", async (c) => c.json(await cluster(c).jobs(embeds(c))))
  .post("/", jsonBody(AnyObject), async (c) => {
    const parsed = parseJob(c.req.valid("json"));
    if (!parsed.ok) throw validationError(parsed.details);
    return c.json(unwrap(await acting(c).jobCreate(parsed.spec, parsed.schedules)), 201);
  })
  .get("/:jobId", async (c) => {
    const job = await cluster(c).job(jobId(c), embeds(c));
    if (!job) throw notFound(`Job '${jobId(c)}' does not exist`);
    return c.json(job);
  })
  .put("/:jobId", jsonBody(AnyObject), async (c) => {
    const parsed = parseJobReplacement(c.req.valid("json"), jobId(c));
    return c.json(unwrap(await acting(c).jobReplace(parsed.spec, parsed.schedules)));
  })
  .delete("/:jobId", async (c) => c.json(unwrap(await acting(c).jobDelete(jobId(c), flag(c, "stopCurrentJobRuns")))))
  .route("/:jobId/runs", runRoutes)
  .route("/:jobId/schedules", scheduleRoutes);

export const metronomeRoutes = new Hono<AppEnv>().route("/jobs", jobRoutes).get("/queue", async (c) => c.json(await cluster(c).jobQueue()));

const ClockAdvance = z.strictObject({
  advanceSeconds: z
    .number()
    .min(0)
    .max(10 * 365 * 24 * 3600),
});

/** The debug routes exist only while the Worker var DCX_TEST_CLOCK is "on"; otherwise they are not found. */
const testClockOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (String(c.env.DCX_TEST_CLOCK) !== "on") throw new ApiError("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`);
  await next();
});

/** `POST /c/:cluster/debug/clock {advanceSeconds}`: moves the job schedule clock forward, so a test sees cron schedules fire without waiting. */
export const debugRoutes = new Hono<AppEnv>().post("/clock", testClockOnly, jsonBody(ClockAdvance), async (c) =>
  c.json(unwrap(await acting(c).jobClockAdvance(c.req.valid("json").advanceSeconds * 1000))),
);

/** The Metronome version whose API shapes `/v1` follows. */
export const METRONOME_API_VERSION = "0.6.66";

/**
 * `/v0/scheduled-jobs`: Metronome's legacy form, a job with its schedules in one body. POST
 * creates both; PUT replaces the job and all its schedules (none given: none kept).
 */
const scheduledJobRoutes = new Hono<AppEnv>()
  .post("/", jsonBody(AnyObject), async (c) => {
    const parsed = parseJob(c.req.valid("json"));
    if (!parsed.ok) throw validationError(parsed.details);
    return c.json(unwrap(await acting(c).jobCreate(parsed.spec, parsed.schedules ?? [])), 201);
  })
  .put("/:jobId", jsonBody(AnyObject), async (c) => {
    const parsed = parseJobReplacement(c.req.valid("json"), jobId(c));
    return c.json(unwrap(await acting(c).jobReplace(parsed.spec, parsed.schedules ?? [])));
  });

/** Metronome's `/v1/metrics`: the Dropwizard-style shape Marathon also uses, with the jobs' gauges. */
async function metronomeMetrics(c: Context<AppEnv>) {
  const [listed, queue] = await Promise.all([cluster(c).jobs(["activeRuns"]), cluster(c).jobQueue()]);
  // The RPC's inferred type of a job list is too deep for TypeScript; these are the fields read.
  const jobs = listed as unknown as { activeRuns?: unknown[] }[];
  const activeRuns = jobs.reduce((n, j) => n + (j.activeRuns?.length ?? 0), 0);
  const gauges = {
    "jobs.active.gauge": jobs.length,
    "runs.active.gauge": activeRuns,
    "runs.queued.gauge": queue.reduce((n, q) => n + q.runs.length, 0),
  };
  return dropwizardMetrics(gauges);
}

/**
 * Metronome's routes outside `/v1/jobs`: `/ping`, `/info`, `/leader` at its root, `/v1/metrics`,
 * and `/v0/scheduled-jobs`. Mounted under `/c/:cluster/service/metronome` (DC/OS's path) and,
 * after Marathon's, at the cluster root (where `/ping` is Marathon's same `pong`).
 */
export const metronomeServiceRoutes = new Hono<AppEnv>()
  .get("/ping", (c) => c.text("pong"))
  .get("/info", (c) => c.json({ version: METRONOME_API_VERSION, libVersion: MARATHON_API_VERSION }))
  .get("/leader", (c) => c.json({ leader: new URL(c.req.url).host }))
  .get("/v1/metrics", async (c) => c.json(await metronomeMetrics(c)))
  .route("/v0/scheduled-jobs", scheduledJobRoutes);
