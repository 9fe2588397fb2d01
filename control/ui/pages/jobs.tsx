import { Hono } from "hono";
import { unwrap } from "../../operations/outcome.ts";
import { JobId, type JobSpec, type ScheduleSpec } from "../../cluster/frameworks/metronome/job-spec.ts";
import type { RunJson } from "../../cluster/frameworks/metronome/views.ts";
import { ApiError, notFound } from "../../errors.ts";
import { DataTable, Empty, Facts, PageHeader, Pager, PostForm, StateBadge, Time } from "../components.tsx";
import { actingOf, checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { cpus, megabytes } from "../format.ts";
import { renderPage } from "../layout.tsx";
import { byKeys, pageOf, parsePaging } from "../paging.ts";

interface HistoryEntry {
  id: string;
  createdAt: string;
  finishedAt: string | null;
  taskResults: { id: string; status: string; message?: string | null }[];
}

/** A job as `GET /v1/jobs/{id}?embed=...` shows it. */
export interface JobView extends JobSpec {
  activeRuns?: RunJson[];
  schedules?: (ScheduleSpec & { nextRunAt: string | null })[];
  history?: { successCount: number; failureCount: number; successfulFinishedRuns: HistoryEntry[]; failedFinishedRuns: HistoryEntry[] };
  historySummary?: { successCount: number; failureCount: number; lastSuccessAt: string | null; lastFailureAt: string | null };
}

/** A job's page. */
export const jobPath = (c: UiContext, id: string) => `/ui/${c.get("cluster").id}/jobs/${id}`;
const taskPath = (c: UiContext, taskId: string) => `/ui/${c.get("cluster").id}/tasks/${encodeURIComponent(taskId)}`;

function schedule(job: JobView): string {
  const s = job.schedules?.[0];
  return s ? `${s.cron} (${s.timezone})${s.enabled ? "" : ", disabled"}` : "–";
}

/** One page of the jobs, in id order. */
function JobsTable(props: { c: UiContext; jobs: JobView[] }) {
  const page = pageOf(
    [...props.jobs].sort(byKeys((j) => j.id)),
    parsePaging((n) => props.c.req.query(n)),
  );
  return (
    <>
      <DataTable
        label="Jobs"
        headers={[
          "Job",
          "Schedule",
          "Next run",
          { text: "Active runs", numeric: true },
          { text: "Succeeded", numeric: true },
          { text: "Failed", numeric: true },
        ]}
      >
        {page.items.map((j) => (
          <tr>
            <th scope="row">
              <a href={jobPath(props.c, j.id)}>{j.id}</a>
            </th>
            <td>{schedule(j)}</td>
            <td>
              <Time iso={j.schedules?.[0]?.nextRunAt} />
            </td>
            <td class="num">{String(j.activeRuns?.length ?? 0)}</td>
            <td class="num">{String(j.historySummary?.successCount ?? 0)}</td>
            <td class="num">{String(j.historySummary?.failureCount ?? 0)}</td>
          </tr>
        ))}
      </DataTable>
      <Pager page={page} url={new URL(props.c.req.url)} label="Jobs" />
    </>
  );
}

/**
 * One page of the active runs, oldest first. The finished runs need no pages: Metronome's store
 * keeps the newest 10 of each outcome.
 */
function RunsTable(props: { c: UiContext; job: string; runs: RunJson[] }) {
  if (props.runs.length === 0) return <Empty>No active runs.</Empty>;
  const page = pageOf(
    [...props.runs].sort(
      byKeys(
        (r) => r.createdAt,
        (r) => r.id,
      ),
    ),
    parsePaging((n) => props.c.req.query(n)),
  );
  return (
    <>
      <DataTable label="Active runs" headers={["Run", "Status", "Started", "Tasks", "Action"]}>
        {page.items.map((r) => (
          <tr>
            <th scope="row" class="id">
              {r.id}
            </th>
            <td>
              <StateBadge state={r.status} />
            </td>
            <td>
              <Time iso={r.createdAt} />
            </td>
            <td>
              {r.tasks.map((t) => (
                <div>
                  <a href={taskPath(props.c, t.id)}>{t.id}</a> <StateBadge state={t.status} /> {t.message ?? ""}
                </div>
              ))}
            </td>
            <td>
              <PostForm action={jobPath(props.c, props.job)} csrf={props.c.get("csrf")} op="stop" label={`Stop run ${r.id}`}>
                <input type="hidden" name="run" value={r.id} />
                <button type="submit">Stop</button>
              </PostForm>
            </td>
          </tr>
        ))}
      </DataTable>
      <Pager page={page} url={new URL(props.c.req.url)} label="Active runs" />
    </>
  );
}

function HistoryTable(props: { c: UiContext; title: string; runs: HistoryEntry[] }) {
  return (
    <>
      <h3>{props.title}</h3>
      {props.runs.length === 0 ? (
        <Empty>None.</Empty>
      ) : (
        <DataTable label={props.title} headers={["Run", "Finished", "Tasks"]}>
          {props.runs.map((r) => (
            <tr>
              <th scope="row" class="id">
                {r.id}
              </th>
              <td>
                <Time iso={r.finishedAt} />
              </td>
              <td>
                {r.taskResults.map((t) => (
                  <div>
                    <a href={taskPath(props.c, t.id)}>{t.id}</a> <StateBadge state={t.status} /> {t.message ?? ""}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

function JobPage(props: { c: UiContext; job: JobView; confirmDelete: boolean }) {
  const { c, job } = props;
  const run = job.run;
  return (
    <>
      <PageHeader title={job.id}>
        <PostForm action={jobPath(c, job.id)} csrf={c.get("csrf")} op="run" label="Run now">
          <button type="submit" class="primary">
            Run now
          </button>
        </PostForm>
        <a class="button" href={`/ui/${c.get("cluster").id}/deploy-job?edit=${encodeURIComponent(job.id)}`}>
          Edit definition
        </a>
        <a class="button danger" href={`${jobPath(c, job.id)}?confirm=delete#confirm`}>
          Delete…
        </a>
      </PageHeader>
      {props.confirmDelete ? (
        <PostForm action={jobPath(c, job.id)} csrf={c.get("csrf")} op="delete" class="panel" label="Confirm deleting the job">
          <h2 id="confirm">{`Delete ${job.id}?`}</h2>
          <p>Its schedule stops, its active runs are stopped and their tasks killed, and its history is deleted. This cannot be undone.</p>
          <button type="submit" class="danger">
            Delete the job
          </button>{" "}
          <a href={jobPath(c, job.id)}>Cancel</a>
        </PostForm>
      ) : null}
      <Facts
        items={[
          ["Description", job.description ?? "–"],
          ["Runs", run.cmd ?? run.docker?.image ?? (run.args ?? []).join(" ")],
          ["Resources", `${cpus(run.cpus)} CPU, ${megabytes(run.mem)}`],
          ["Restart", run.restart.policy],
          ["Schedule", schedule(job)],
          ["Next run", <Time iso={job.schedules?.[0]?.nextRunAt} />],
        ]}
      />
      <div id="job-live" data-live>
        <h2>Active runs</h2>
        <RunsTable c={c} job={job.id} runs={job.activeRuns ?? []} />
        <h2>History</h2>
        <HistoryTable c={c} title={`Succeeded (${job.history?.successCount ?? 0} in all)`} runs={job.history?.successfulFinishedRuns ?? []} />
        <HistoryTable c={c} title={`Failed (${job.history?.failureCount ?? 0} in all)`} runs={job.history?.failedFinishedRuns ?? []} />
      </div>
      <details>
        <summary>Job definition (JSON)</summary>
        <pre>{JSON.stringify({ ...job, activeRuns: undefined, history: undefined }, null, 2)}</pre>
      </details>
    </>
  );
}

async function loadJob(c: UiContext): Promise<JobView> {
  const id = c.req.param("jobId") ?? "";
  const job: JobView | undefined = JobId.safeParse(id).success ? await clusterOf(c).job(id, ["activeRuns", "schedules", "history"]) : undefined;
  if (!job) throw notFound(`Job '${id}' does not exist.`);
  return job;
}

/** `/ui/:cluster/jobs`: jobs, a job's runs and history, run now, stop, delete. */
export const jobsPage = new Hono<UiEnv>()
  .get("/", async (c) => {
    const jobs: JobView[] = await clusterOf(c).jobs(["activeRuns", "schedules", "historySummary"]);
    return renderPage(
      c,
      { title: "Jobs", section: "jobs" },
      <>
        <PageHeader title="Jobs">
          <a class="button primary" href={`/ui/${c.get("cluster").id}/deploy-job`}>
            Create a job
          </a>
        </PageHeader>
        <div id="jobs-live" data-live>
          {jobs.length === 0 ? <Empty>No jobs yet.</Empty> : <JobsTable c={c} jobs={jobs} />}
        </div>
      </>,
    );
  })
  .get("/:jobId", async (c) => {
    const job = await loadJob(c);
    return renderPage(c, { title: job.id, section: "jobs" }, <JobPage c={c} job={job} confirmDelete={c.req.query("confirm") === "delete"} />);
  })
  .post("/:jobId", checkForm, async (c) => {
    const job = await loadJob(c);
    const op = await formField(c, "op");
    try {
      if (op === "run") {
        const run = unwrap(await actingOf(c).jobStartRun(job.id));
        return redirectWithFlash(c, jobPath(c, job.id), { kind: "ok", text: `Started run ${run.id}.` });
      }
      if (op === "stop") {
        const run = unwrap(await actingOf(c).jobStopRun(job.id, await formField(c, "run")));
        return redirectWithFlash(c, jobPath(c, job.id), { kind: "ok", text: `Stopped run ${run.id}.` });
      }
      if (op === "delete") {
        unwrap(await actingOf(c).jobDelete(job.id, true));
        return redirectWithFlash(c, `/ui/${c.get("cluster").id}/jobs`, { kind: "ok", text: `Deleted ${job.id}.` });
      }
      throw new ApiError("malformed", `Unknown action '${op.slice(0, 40)}'.`);
    } catch (err) {
      if (!(err instanceof ApiError) || err.code === "internal") throw err;
      return redirectWithFlash(c, jobPath(c, job.id), { kind: "error", text: err.message });
    }
  });
