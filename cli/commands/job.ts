import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { readJsonObject } from "../input.ts";
import { jsonArg, print, printJson, printList, shortTime } from "../output.ts";

/** `dcx job …`: Metronome jobs of the current cluster, through `/v1/jobs`. */

interface RunView {
  id: string;
  jobId: string;
  status: string;
  createdAt: string;
  completedAt?: string | null;
  finishedAt?: string | null;
  /** Active runs list task objects; finished ones (history) list task ids, with `taskResults` beside them. */
  tasks: ({ id: string; status?: string; message?: string } | string)[];
  taskResults?: { id: string; status: string; message?: string }[];
}

interface JobView {
  id: string;
  description?: string;
  run: { cmd?: string; args?: string[]; cpus: number; mem: number };
  schedules?: { id: string; cron: string; timezone: string; enabled: boolean; nextRunAt?: string | null }[];
  activeRuns?: RunView[];
  history?: { successfulFinishedRuns: RunView[]; failedFinishedRuns: RunView[] };
  historySummary?: { successCount: number; failureCount: number; lastSuccessAt: string | null; lastFailureAt: string | null };
}

/** Metronome job ids are dot-separated lowercase segments, e.g. `ops.backup`; they are used as given. */
const idArg = { id: { type: "positional", required: true, description: "the job's id, e.g. ops.backup" } } as const;
const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

/** The last status message of a run's task (the exit status), when there is one. */
function outcome(run: RunView): string {
  const last = run.taskResults?.at(-1) ?? run.tasks.at(-1);
  return typeof last === "object" && last !== null ? (last.message ?? last.status ?? "") : "";
}

const add = defineCommand({
  meta: { name: "add", description: "Create a job (Metronome JSON, with its schedules) from a file ('-' for stdin)" },
  args: { file: { type: "positional", required: true, description: "the job spec (JSON), or - for stdin" }, ...jsonArg },
  async run({ args }) {
    const spec = await readJsonObject(args.file, "job spec");
    const s = clusterSession();
    const job = await s.api.request<JobView>("POST", s.path("/v1/jobs"), { body: spec });
    if (args.json) return printJson(job);
    print(`Created job ${job.id}.`);
  },
});

const run = defineCommand({
  meta: { name: "run", description: "Start a run of a job now" },
  args: { ...idArg, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    const started = await s.api.request<RunView>("POST", s.path(`${jobPath(args.id)}/runs`));
    if (args.json) return printJson(started);
    print(`Started run ${started.id} of ${started.jobId} (${started.status}).`);
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List the jobs, with their schedules and how their runs went" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const jobs = await s.api.get<JobView[]>(s.path("/v1/jobs"), { embed: "activeRuns,schedules,historySummary" });
    printList(
      args.json,
      jobs,
      ["ID", "SCHEDULE", "NEXT RUN", "ACTIVE", "SUCCEEDED", "FAILED", "LAST SUCCESS"],
      (j) => {
        const schedule = j.schedules?.[0];
        return [
          j.id,
          schedule ? `${schedule.cron} ${schedule.timezone}${schedule.enabled ? "" : " (disabled)"}` : "",
          shortTime(schedule?.nextRunAt),
          j.activeRuns?.length ?? 0,
          j.historySummary?.successCount ?? 0,
          j.historySummary?.failureCount ?? 0,
          shortTime(j.historySummary?.lastSuccessAt),
        ];
      },
      "No jobs.",
    );
  },
});

const runs = defineCommand({
  meta: { name: "runs", description: "List a job's active runs and the finished ones it keeps" },
  args: { ...idArg, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    const job = await s.api.get<JobView>(s.path(jobPath(args.id)), { embed: "activeRuns,history" });
    const finished = [...(job.history?.successfulFinishedRuns ?? []), ...(job.history?.failedFinishedRuns ?? [])].map((r) => ({
      ...r,
      status: job.history?.successfulFinishedRuns.includes(r) ? "SUCCESS" : "FAILED",
    }));
    const all = [...(job.activeRuns ?? []), ...finished].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    printList(
      args.json,
      all,
      ["RUN", "STATUS", "CREATED", "FINISHED", "TASKS", "OUTCOME"],
      (r) => [r.id, r.status, shortTime(r.createdAt), shortTime(r.completedAt ?? r.finishedAt), r.tasks.length, outcome(r)],
      `No runs of ${job.id}.`,
    );
  },
});

const remove = defineCommand({
  meta: { name: "remove", description: "Delete a job (--force stops its active runs first)" },
  args: { ...idArg, force: { type: "boolean", description: "stop the job's active runs and delete it" }, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    await s.api.request("DELETE", s.path(jobPath(args.id)), { query: args.force ? { stopCurrentJobRuns: "true" } : {} });
    if (args.json) return printJson({ removed: args.id });
    print(`Deleted job ${args.id}.`);
  },
});

export const job = defineCommand({
  meta: { name: "job", description: "Metronome jobs: one-off and scheduled runs" },
  subCommands: { add, run, list, runs, remove },
});
