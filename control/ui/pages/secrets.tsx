import { Hono } from "hono";
import { NewSecret, SecretValue, type SecretInfo } from "../../cluster/secrets.ts";
import { DataTable, Empty, Field, FieldErrors, PageHeader, PostForm, Time } from "../components.tsx";
import { actingOf, checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { checkFields, type FormErrors } from "../form-errors.ts";
import { renderPage } from "../layout.tsx";

/**
 * `/ui/:cluster/secrets`: the cluster's secret store (DC/OS's Secrets page): each secret's path
 * and times, a form to store one or give one a new value, and deletion. No page shows a value:
 * the store gives values only to the tasks of apps that name them.
 */

const secretsPath = (c: UiContext) => `/ui/${c.get("cluster").id}/secrets`;

/** A refused command's message (the RPC's Outcome type does not narrow on `ok`). */
const refusal = (r: object) => ("message" in r && typeof r.message === "string" ? r.message : "Refused.");

/** What the form shows: blank, a path being given a new value, or what was typed with its errors. */
interface SecretForm {
  path: string;
  mode: "create" | "update";
  errors: FormErrors;
}

function SecretEditor(props: { c: UiContext; form: SecretForm }) {
  const { c, form } = props;
  const updating = form.mode === "update";
  return (
    <PostForm action={secretsPath(c)} csrf={c.get("csrf")} op={form.mode} class="panel" label={updating ? "Change a secret's value" : "Store a secret"}>
      <h2 id="secret-form">{updating ? `New value for ${form.path}` : "Store a secret"}</h2>
      {updating ? (
        <input type="hidden" name="path" value={form.path} />
      ) : (
        <Field
          name="path"
          label="Path"
          value={form.path}
          errors={form.errors.path}
          hint="Segments joined by /, e.g. team/db-password."
          autocomplete="off"
          required
        />
      )}
      <div class={form.errors.value ? "field field-invalid" : "field"}>
        <label for="field-value">Value</label>
        <textarea
          id="field-value"
          name="value"
          rows={3}
          autocomplete="off"
          spellcheck={false}
          required
          aria-describedby={form.errors.value ? "field-value-errors" : undefined}
        />
        <FieldErrors id="field-value" errors={form.errors.value ?? []} />
      </div>
      <p class="hint">
        {"An app uses it with "}
        <code>{`"secrets": {"db": {"source": "${form.path || "team/db-password"}"}}`}</code>
        {" and "}
        <code>{'"env": {"DB_PASSWORD": {"secret": "db"}}'}</code>
        {updating ? ". Running tasks keep the old value; new launches get this one." : "."}
      </p>
      <button type="submit" class="primary">
        {updating ? "Save the new value" : "Store secret"}
      </button>
      {updating ? (
        <>
          {" "}
          <a href={secretsPath(c)}>Cancel</a>
        </>
      ) : null}
    </PostForm>
  );
}

function SecretsTable(props: { c: UiContext; secrets: SecretInfo[] }) {
  const { c } = props;
  if (props.secrets.length === 0) return <Empty>No secrets.</Empty>;
  return (
    <DataTable label="Secrets" headers={["Path", "Created", "Changed", "", ""]}>
      {props.secrets.map((s) => (
        <tr>
          <th scope="row" class="id">
            {s.path}
          </th>
          <td>
            <Time iso={new Date(s.createdAt).toISOString()} />
          </td>
          <td>
            <Time iso={new Date(s.updatedAt).toISOString()} />
          </td>
          <td>
            <a href={`${secretsPath(c)}?edit=${encodeURIComponent(s.path)}#secret-form`}>New value…</a>
          </td>
          <td>
            <PostForm action={secretsPath(c)} csrf={c.get("csrf")} op="delete" label={`Delete ${s.path}`}>
              <input type="hidden" name="path" value={s.path} />
              <button type="submit" class="danger">
                Delete
              </button>
            </PostForm>
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

async function showSecrets(c: UiContext, form?: SecretForm) {
  const secrets = await clusterOf(c).secretList();
  const edit = c.req.query("edit");
  const editing = edit !== undefined && secrets.some((s) => s.path === edit) ? { path: edit, mode: "update" as const, errors: {} } : undefined;
  return renderPage(
    c,
    { title: "Secrets", section: "secrets", status: form ? 422 : 200 },
    <>
      <PageHeader title="Secrets" />
      <p class="hint">Values go only to the tasks of apps that name them; no page, API call or command shows one again.</p>
      <SecretsTable c={c} secrets={secrets} />
      <SecretEditor c={c} form={form ?? editing ?? { path: "", mode: "create", errors: {} }} />
    </>,
  );
}

/** Stores or changes a secret through the same command as the API; a refusal is said on the page. */
async function save(c: UiContext, mode: "create" | "update") {
  const typed = { path: (await formField(c, "path")).trim(), value: await formField(c, "value") };
  const checked = checkFields(mode === "create" ? NewSecret : SecretValue.extend({ path: NewSecret.shape.path }), typed);
  if (!checked.ok) return showSecrets(c, { path: typed.path, mode, errors: checked.errors });
  const r = await actingOf(c).secretPut(checked.value.path, checked.value.value, mode);
  if (!r.ok) return showSecrets(c, { path: typed.path, mode, errors: { [mode === "create" ? "path" : "value"]: [refusal(r)] } });
  return redirectWithFlash(c, secretsPath(c), { kind: "ok", text: mode === "create" ? `Stored secret ${r.value.path}.` : `Changed secret ${r.value.path}.` });
}

async function remove(c: UiContext) {
  const path = await formField(c, "path");
  const r = await actingOf(c).secretDelete(path);
  if (!r.ok) return redirectWithFlash(c, secretsPath(c), { kind: "error", text: refusal(r) });
  return redirectWithFlash(c, secretsPath(c), { kind: "ok", text: `Deleted secret ${path}.` });
}

export const secretsPage = new Hono<UiEnv>()
  .get("/", (c) => showSecrets(c))
  .post("/", checkForm, async (c) => {
    const op = await formField(c, "op");
    if (op === "delete") return remove(c);
    return save(c, op === "update" ? "update" : "create");
  });
