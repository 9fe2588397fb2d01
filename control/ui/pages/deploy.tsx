import { Hono } from "hono";
import { unwrap } from "../../operations/outcome.ts";
import { READ_ONLY_FIELDS, normalizeAppId, normalizeGroupId, parseAppDefinition } from "../../cluster/frameworks/marathon/app-definition.ts";
import { ROOT_GROUP } from "../../cluster/frameworks/marathon/group-tree.ts";
import { ApiError } from "../../errors.ts";
import { PageHeader } from "../components.tsx";
import { actingOf, checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { JsonEditor, problemsOf, readDefinition, type EditorProblems } from "../editor.tsx";
import { renderPage } from "../layout.tsx";
import { servicePath } from "./services.tsx";

/** What a new service starts from: Marathon's own first example, small enough for any agent; `group` puts it inside a group. */
function exampleApp(group = ROOT_GROUP): string {
  const id = `${group === ROOT_GROUP ? "" : group}/hello`;
  return JSON.stringify({ id, cmd: "while true; do echo hello from $HOSTNAME; sleep 5; done", cpus: 0.1, mem: 32, instances: 1 }, null, 2);
}

/** The group of `?group=/prod` (from a group's "Deploy into this group"); the root when absent or malformed. */
function groupOf(raw: string | undefined): string {
  try {
    return raw ? normalizeGroupId(raw) : ROOT_GROUP;
  } catch {
    return ROOT_GROUP;
  }
}

/** An app as the editor shows it for a change: its definition without Marathon's read-only fields. */
function definitionText(app: object): string {
  const copy: Record<string, unknown> = { ...app };
  for (const field of READ_ONLY_FIELDS) delete copy[field];
  return JSON.stringify(copy, null, 2);
}

function appIdOf(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  try {
    return normalizeAppId(raw);
  } catch {
    return undefined;
  }
}

function showEditor(c: UiContext, props: { text: string; editing?: string; problems: EditorProblems }, status: 200 | 404 | 409 | 422 = 200) {
  const id = c.get("cluster").id;
  const title = props.editing ? `Edit ${props.editing}` : "Deploy a service";
  return renderPage(
    c,
    { title, section: "services", status },
    <>
      <PageHeader title={title} />
      <p>
        {"A Marathon app definition, as the "}
        <code>/v2/apps</code>
        {" API takes it: "}
        <code>id</code>
        {", "}
        <code>cmd</code>
        {" or a "}
        <code>container</code>
        {", "}
        <code>cpus</code>
        {", "}
        <code>mem</code>
        {", "}
        <code>instances</code>
        {", and any other Marathon field."}
      </p>
      <JsonEditor
        action={`/ui/${id}/deploy`}
        csrf={c.get("csrf")}
        label="App definition (JSON)"
        text={props.text}
        submitLabel={props.editing ? "Deploy the change" : "Deploy"}
        problems={props.problems}
      >
        {props.editing ? (
          <>
            <input type="hidden" name="edit" value={props.editing} />
            <div class="field">
              <label>
                <input type="checkbox" name="force" value="true" />
                {" Force: replace a deployment still in progress"}
              </label>
            </div>
          </>
        ) : null}
      </JsonEditor>
    </>,
  );
}

/** Creates the app, or replaces it when editing; throws the API's errors. */
async function deploy(c: UiContext, definition: Record<string, unknown>, editing: string | undefined, force: boolean) {
  if (editing !== undefined && definition.id !== undefined && appIdOf(String(definition.id)) !== editing) {
    throw new ApiError("invalid", "Object is not valid", [
      { path: "/id", errors: [`the id ('${String(definition.id)}') differs from the app being edited ('${editing}')`] },
    ]);
  }
  const parsed = parseAppDefinition(editing === undefined ? definition : { ...definition, id: editing });
  if (!parsed.ok) throw new ApiError("invalid", "Object is not valid", parsed.details);
  if (editing === undefined) {
    const created = unwrap(await actingOf(c).marathonCreate(parsed.app));
    return { id: parsed.app.id, deploymentId: created.deploymentId };
  }
  const replaced = unwrap(await actingOf(c).marathonReplace(parsed.app, force));
  return { id: parsed.app.id, deploymentId: replaced.deploymentId };
}

/** `/ui/:cluster/deploy`: the JSON editor for a new app (`?edit=/id` changes an existing one). */
export const deployPage = new Hono<UiEnv>()
  .get("/", async (c) => {
    const editing = appIdOf(c.req.query("edit"));
    if (!editing) return showEditor(c, { text: exampleApp(groupOf(c.req.query("group"))), problems: {} });
    const app = await clusterOf(c).marathonApp(editing);
    if (!app) return showEditor(c, { text: exampleApp(), problems: { message: `App '${editing}' does not exist.` } }, 404);
    return showEditor(c, { text: definitionText(app), editing, problems: {} });
  })
  .post("/", checkForm, async (c) => {
    const text = await formField(c, "json");
    const editing = appIdOf((await formField(c, "edit")) || undefined);
    const read = readDefinition(text);
    if (!read.ok) return showEditor(c, { text, editing, problems: read.problems }, 422);
    try {
      const result = await deploy(c, read.value, editing, (await formField(c, "force")) === "true");
      return redirectWithFlash(c, servicePath(c.get("cluster").id, result.id), {
        kind: "ok",
        text: `${editing ? "Changing" : "Deploying"} ${result.id} (deployment ${result.deploymentId}).`,
      });
    } catch (err) {
      if (!(err instanceof ApiError) || !["invalid", "conflict", "not_found"].includes(err.code)) throw err;
      const status = err.code === "invalid" ? 422 : err.code === "conflict" ? 409 : 404;
      return showEditor(c, { text, editing, problems: err.code === "invalid" ? problemsOf(err, text) : { message: err.message } }, status);
    }
  });
