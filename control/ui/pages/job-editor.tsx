import { Hono } from "hono";
import { unwrap } from "../../operations/outcome.ts";
import { parseJobReplacement } from "../../operations/jobs.ts";
import { JobId, parseJob } from "../../cluster/frameworks/metronome/job-spec.ts";
import { ApiError } from "../../errors.ts";
import { PageHeader } from "../components.tsx";
import { actingOf, checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { JsonEditor, problemsOf, readDefinition, type EditorProblems } from "../editor.tsx";
import { renderPage } from "../layout.tsx";
import { jobPath, type JobView } from "./jobs.tsx";

const EXAMPLE_JOB = `{
  "id": "hello.job",
  "description": "Says hello once a day",
  "run": { "cmd": "echo hello from a job; sleep 3", "cpus": 0.1, "mem": 32 },
  "schedules": [{ "id": "daily", "cron": "0 6 * * *", "timezone": "UTC" }]
}`;

/** A job as the editor shows it for a change: its spec and schedules, without what GET computes (next run times). */
function definitionText(job: JobView): string {
  const schedules = job.schedules?.map(({ nextRunAt: _computed, ...schedule }) => schedule);
  const { id, description, labels, run } = job;
  return JSON.stringify({ id, description, labels, run, schedules }, null, 2);
}

/** The job id `?edit=` names, when it can be a job id at all. */
const editedId = (raw: string | undefined) => (raw && JobId.safeParse(raw).success ? raw : undefined);

function showJobEditor(c: UiContext, props: { text: string; editing?: string; problems: EditorProblems }, status: 200 | 404 | 409 | 422 = 200) {
  const title = props.editing ? `Edit ${props.editing}` : "Create a job";
  return renderPage(
    c,
    { title, section: "jobs", status },
    <>
      <PageHeader title={title} />
      <p>A Metronome job definition: an id, a run spec, and optionally one cron schedule.</p>
      {props.editing ? (
        <p class="hint">
          {"Runs started from now on use the new definition; active runs go on as they are. Without "}
          <code>schedules</code>
          {" the schedule stays as it is; "}
          <code>{'"schedules": []'}</code>
          {" removes it."}
        </p>
      ) : null}
      <JsonEditor
        action={`/ui/${c.get("cluster").id}/deploy-job`}
        csrf={c.get("csrf")}
        label="Job definition (JSON)"
        text={props.text}
        submitLabel={props.editing ? "Save the change" : "Create"}
        problems={props.problems}
      >
        {props.editing ? <input type="hidden" name="edit" value={props.editing} /> : null}
      </JsonEditor>
    </>,
  );
}

/** Creates the job, or replaces its definition when editing, as `POST /v1/jobs` and `PUT /v1/jobs/{id}` do; throws the API's errors. */
async function saveJob(c: UiContext, definition: Record<string, unknown>, editing: string | undefined): Promise<string> {
  if (editing !== undefined) {
    const parsed = parseJobReplacement(definition, editing);
    unwrap(await actingOf(c).jobReplace(parsed.spec, parsed.schedules));
    return parsed.spec.id;
  }
  const parsed = parseJob(definition);
  if (!parsed.ok) throw new ApiError("invalid", "Object is not valid", parsed.details);
  unwrap(await actingOf(c).jobCreate(parsed.spec, parsed.schedules));
  return parsed.spec.id;
}

const STATUS = { invalid: 422, conflict: 409, not_found: 404 } as const;

/** `/ui/:cluster/deploy-job`: the JSON editor for a new Metronome job (`?edit=id` changes an existing one). */
export const jobEditorPage = new Hono<UiEnv>()
  .get("/", async (c) => {
    const raw = c.req.query("edit");
    if (raw === undefined) return showJobEditor(c, { text: EXAMPLE_JOB, problems: {} });
    const editing = editedId(raw);
    const job: JobView | undefined = editing ? await clusterOf(c).job(editing, ["schedules"]) : undefined;
    if (!editing || !job) return showJobEditor(c, { text: EXAMPLE_JOB, problems: { message: `Job '${raw.slice(0, 200)}' does not exist.` } }, 404);
    return showJobEditor(c, { text: definitionText(job), editing, problems: {} });
  })
  .post("/", checkForm, async (c) => {
    const text = await formField(c, "json");
    // An id that cannot be a job's is still an edit: parseJobReplacement refuses it at /id.
    const editing = (await formField(c, "edit")) || undefined;
    const read = readDefinition(text);
    if (!read.ok) return showJobEditor(c, { text, editing, problems: read.problems }, 422);
    try {
      const id = await saveJob(c, read.value, editing);
      return redirectWithFlash(c, jobPath(c, id), { kind: "ok", text: editing ? `Saved the new definition of ${id}.` : `Created ${id}.` });
    } catch (err) {
      if (!(err instanceof ApiError) || !(err.code === "invalid" || err.code === "conflict" || err.code === "not_found")) throw err;
      return showJobEditor(c, { text, editing, problems: err.code === "invalid" ? problemsOf(err, text) : { message: err.message } }, STATUS[err.code]);
    }
  });
