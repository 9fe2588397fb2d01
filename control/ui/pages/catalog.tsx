import { Hono } from "hono";
import { CosmosError } from "../../packages/errors.ts";
import { installedPackages, type Installed } from "../../packages/installed.ts";
import type { OptionError } from "../../packages/options.ts";
import { ApiError } from "../../errors.ts";
import { ACCOUNT_OPTION, frameworkScope } from "../../packages/framework-install.ts";
import { installPackage, refreshStale, resolvePackage, type PackageScope } from "../../packages/operations.ts";
import type { SearchResult } from "../../packages/search.ts";
import type { PackageDefinition } from "../../packages/universe.ts";
import type { RepositoryRecord } from "../../cluster/package-repositories.ts";
import { addRepository, deleteRepository } from "../../packages/repositories.ts";
import { Breadcrumbs, DataTable, Empty, Facts, Field, FilterForm, FormError, PageHeader, PostForm, Time } from "../components.tsx";
import { actingOf, checkForm, clusterBase, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import type { FormErrors } from "../form-errors.ts";
import { renderPage } from "../layout.tsx";
import { errorsByOption, OptionField, optionsFromForm, schemaFields } from "../schema-form.tsx";

/**
 * The Catalog: the cluster's packages (every repository, in order), a page per package with
 * its notes and versions, and an install form generated from its config schema. Installing
 * runs the same operation as Cosmos's `/package/install`.
 */

const scopeOf = (c: UiContext): PackageScope => ({
  stub: clusterOf(c),
  acting: actingOf(c),
  env: c.env,
  waitUntil: (p) => c.executionCtx.waitUntil(p),
  framework: frameworkScope(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.url),
});
const packagePath = (c: UiContext, name: string) => `${clusterBase(c)}/catalog/${encodeURIComponent(name)}`;

function PackageList(props: { c: UiContext; packages: SearchResult[]; installed: Installed[] }) {
  const count = (name: string) => props.installed.filter((i) => i.packageName === name).length;
  if (props.packages.length === 0) return <Empty>No packages match.</Empty>;
  return (
    <DataTable label="Packages" headers={["Package", "Version", "Description", "Tags", { text: "Installed", numeric: true }]}>
      {props.packages.map((p) => (
        <tr>
          <th scope="row">
            <a href={packagePath(props.c, p.name)}>{p.name}</a>
          </th>
          <td class="id">{p.currentVersion}</td>
          <td>{p.description}</td>
          <td>{p.tags.join(", ")}</td>
          <td class="num">{String(count(p.name))}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** What the install form shows: posted values and errors by field ("" for the form's own). */
interface InstallForm {
  values: Record<string, string>;
  errors: FormErrors;
}

function InstallPanel(props: { c: UiContext; pkg: PackageDefinition; versions: PackageDefinition[]; form?: InstallForm }) {
  const { c, pkg } = props;
  const fields = schemaFields(pkg.config as Parameters<typeof schemaFields>[0]);
  const errors = props.form?.errors ?? {};
  const values = props.form?.values ?? {};
  return (
    <PostForm action={packagePath(c, pkg.name)} csrf={c.get("csrf")} class="panel" label={`Install ${pkg.name}`}>
      <h2>{`Install ${pkg.name}`}</h2>
      <FormError message={errors[""]?.join(" ")} />
      <div class="field">
        <label for="install-version">Version</label>
        <select id="install-version" name="packageVersion">
          {props.versions.map((v) => (
            <option value={v.version} selected={v.version === pkg.version}>
              {v.version}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="install-app-id">App id (optional)</label>
        <input id="install-app-id" name="appId" type="text" value={values.appId ?? ""} autocomplete="off" aria-describedby="install-app-id-hint" />
        <p class="hint" id="install-app-id-hint">
          Replaces the id the package gives its app, so a package can be installed twice.
        </p>
      </div>
      {fields.length === 0 ? (
        <p>This package takes no options.</p>
      ) : (
        fields.map((f) => <OptionField field={f} value={values[f.name]} errors={errors[f.name]} />)
      )}
      <button type="submit" class="primary">{`Install ${pkg.name}`}</button>
    </PostForm>
  );
}

/** A package for a page: one the catalog lacks is the page's 404, not a Cosmos error. */
async function packageFor(c: UiContext, name: string, version: string | undefined) {
  try {
    return await resolvePackage(scopeOf(c), name, version);
  } catch (err) {
    if (err instanceof CosmosError && (err.type === "PackageNotFound" || err.type === "VersionNotFound")) throw new ApiError("not_found", err.message);
    throw err;
  }
}

async function showPackage(c: UiContext, name: string, version: string | undefined, form?: InstallForm) {
  const scope = scopeOf(c);
  const [{ pkg, versions, source }, installed] = await Promise.all([packageFor(c, name, version), installedPackages(scope.stub, { packageName: name })]);
  return renderPage(
    c,
    { title: `${pkg.name} · Catalog`, section: "catalog", status: form ? 422 : 200 },
    <>
      <Breadcrumbs
        crumbs={[
          { label: "Catalog", href: `${clusterBase(c)}/catalog` },
          { label: pkg.name, href: packagePath(c, pkg.name) },
        ]}
      />
      <PageHeader title={pkg.name} />
      <p>{pkg.description}</p>
      <Facts
        items={[
          ["Version", pkg.version],
          ["Versions", versions.map((v) => v.version).join(", ")],
          ["Maintainer", pkg.maintainer],
          ["Tags", pkg.tags.join(", ")],
          ["Repository", source],
          [
            "Installs",
            pkg.metronome
              ? "a Metronome job"
              : pkg.framework
                ? "a Marathon app that runs a framework's scheduler (DCX creates its service account)"
                : "a Marathon app",
          ],
        ]}
      />
      {pkg.preInstallNotes ? (
        <p class="notes-pre">
          <strong>Before installing:</strong> {pkg.preInstallNotes}
        </p>
      ) : null}
      {pkg.postInstallNotes ? (
        <p class="notes-post">
          <strong>After installing:</strong> {pkg.postInstallNotes}
        </p>
      ) : null}
      <section aria-labelledby="installed-title">
        <h2 id="installed-title">Installed</h2>
        {installed.length === 0 ? (
          <Empty>Not installed.</Empty>
        ) : (
          <DataTable label="Installed" headers={["App", "Version"]}>
            {installed.map((i) => (
              <tr>
                <th scope="row" class="id">
                  <a href={i.kind === "job" ? `${clusterBase(c)}/jobs/${i.appId}` : `${clusterBase(c)}/services${i.appId}`}>{i.appId}</a>
                </th>
                <td>{i.packageVersion}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
      <InstallPanel c={c} pkg={pkg} versions={versions} form={form} />
    </>,
  );
}

/** The repositories, in search order, each with a Remove button; and the form that adds one by URL. */
function Repositories(props: { c: UiContext; repos: RepositoryRecord[]; error?: string; typed?: { name: string; uri: string } }) {
  const { c } = props;
  const action = `${clusterBase(c)}/catalog`;
  return (
    <section aria-labelledby="repos-title">
      <h2 id="repos-title">Repositories</h2>
      {props.repos.length === 0 ? (
        <Empty>No repositories: nothing can be installed.</Empty>
      ) : (
        <DataTable label="Repositories" headers={["Name", "URI", "Last refresh", "Action"]}>
          {props.repos.map((r) => (
            <tr>
              <th scope="row">{r.name}</th>
              <td class="id">{r.uri}</td>
              <td>{r.lastError ? `failed: ${r.lastError}` : r.checkedAt ? <Time iso={new Date(r.checkedAt).toISOString()} /> : "built in"}</td>
              <td>
                <PostForm action={action} csrf={c.get("csrf")} op="remove-repository" class="inline-form" label={`Remove ${r.name}`}>
                  <input type="hidden" name="name" value={r.name} />
                  <button type="submit">Remove</button>
                </PostForm>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <PostForm action={action} csrf={c.get("csrf")} op="add-repository" class="panel" label="Add a repository">
        <h3>Add a repository</h3>
        <FormError message={props.error} />
        <div class="actions-row">
          <Field name="name" label="Name" value={props.typed?.name} required autocomplete="off" />
          <Field
            name="uri"
            label="URL"
            value={props.typed?.uri}
            hint="A Universe repository (JSON, packaging versions 2.0 to 5.0). It is fetched and checked before it is added."
            required
            autocomplete="off"
          />
          <Field name="index" label="Position" type="number" min={0} hint="0 is searched first; empty: last." />
        </div>
        <button type="submit" class="primary">
          Add the repository
        </button>
      </PostForm>
    </section>
  );
}

/** The Catalog's front page: the packages (searched by `?q=`) and the repositories. */
async function showCatalog(c: UiContext, repoForm?: { error: string; name: string; uri: string }) {
  const scope = scopeOf(c);
  const q = (c.req.query("q") ?? "").trim();
  await refreshStale(scope);
  const [packages, installed, repos] = await Promise.all([scope.stub.packageSearch(q), installedPackages(scope.stub), scope.stub.packageRepositories()]);
  return renderPage(
    c,
    { title: "Catalog", section: "catalog", status: repoForm ? 422 : 200 },
    <>
      <PageHeader title="Catalog" />
      <p>Services and jobs to install from the cluster's package repositories (Universe format), searched in order.</p>
      <FilterForm url={new URL(c.req.url)} label="Search packages" q={q} />
      <PackageList c={c} packages={JSON.parse(packages) as SearchResult[]} installed={installed} />
      <Repositories c={c} repos={repos} error={repoForm?.error} typed={repoForm} />
    </>,
  );
}

/** Adds or removes a repository from the Catalog page's forms; a refusal is shown on the form. */
async function changeRepositories(c: UiContext) {
  const op = await formField(c, "op");
  const name = (await formField(c, "name")).trim();
  const uri = (await formField(c, "uri")).trim();
  const index = (await formField(c, "index")).trim();
  try {
    if (op === "remove-repository") await deleteRepository(scopeOf(c), { name });
    else if (op === "add-repository") await addRepository(scopeOf(c), { name, uri, ...(/^\d+$/.test(index) ? { index: Number(index) } : {}) });
    else throw new ApiError("malformed", `Unknown form operation '${op}'.`);
  } catch (err) {
    if (!(err instanceof CosmosError)) throw err;
    if (op === "remove-repository") return redirectWithFlash(c, `${clusterBase(c)}/catalog`, { kind: "error", text: err.message });
    return showCatalog(c, { error: err.message, name, uri });
  }
  const text = op === "add-repository" ? `Added the repository ${name}.` : `Removed the repository ${name}.`;
  return redirectWithFlash(c, `${clusterBase(c)}/catalog`, { kind: "ok", text });
}

/** Turns an install's refusal into the form's errors: a schema mismatch by field, anything else for the whole form. */
function refusal(err: CosmosError, fields: ReturnType<typeof schemaFields>): FormErrors {
  if (err.type === "JsonSchemaMismatch") return errorsByOption((err.data?.errors as OptionError[] | undefined) ?? [], fields);
  // A framework package's principal in use belongs under the option that names it.
  if (err.type === "ServiceAccountAlreadyExists" && fields.some((f) => f.name === ACCOUNT_OPTION)) return { [ACCOUNT_OPTION]: [err.message] };
  return { "": [err.message] };
}

export const catalogPages = new Hono<UiEnv>()
  .get("/", (c) => showCatalog(c))
  .post("/", checkForm, changeRepositories)
  .get("/:name", (c) => showPackage(c, c.req.param("name"), c.req.query("version") || undefined))
  .post("/:name", checkForm, async (c) => {
    const name = c.req.param("name");
    const packageVersion = (await formField(c, "packageVersion")) || undefined;
    const appId = (await formField(c, "appId")).trim() || undefined;
    const { pkg } = await packageFor(c, name, packageVersion);
    const fields = schemaFields(pkg.config as Parameters<typeof schemaFields>[0]);
    const body = await c.req.parseBody();
    const posted = (n: string) => (typeof body[n] === "string" ? (body[n] as string) : undefined);
    try {
      const result = await installPackage(scopeOf(c), { packageName: name, packageVersion, appId, options: optionsFromForm(fields, posted) });
      const text = `Installed ${pkg.name} ${pkg.version}${result.appId ? ` as ${result.appId}` : ""}.${pkg.postInstallNotes ? ` ${pkg.postInstallNotes}` : ""}`;
      return redirectWithFlash(c, packagePath(c, name), { kind: "ok", text });
    } catch (err) {
      if (!(err instanceof CosmosError)) throw err;
      const values = Object.fromEntries(fields.map((f) => [f.name, posted(f.name) ?? (f.type === "boolean" ? "false" : "")]));
      return showPackage(c, name, packageVersion, { values: { ...values, appId: appId ?? "" }, errors: refusal(err, fields) });
    }
  });
