import { Hono } from "hono";
import { unwrap } from "../../operations/outcome.ts";
import { normalizeAppId, normalizeGroupId } from "../../cluster/frameworks/marathon/app-definition.ts";
import { groupTree, ROOT_GROUP } from "../../cluster/frameworks/marathon/group-tree.ts";
import { ApiError, notFound } from "../../errors.ts";
import { ServiceLinks } from "./service-links.tsx";
import { FilterForm, PageHeader, PostForm, TypeToConfirm } from "../components.tsx";
import { actingOf, checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { time } from "../format.ts";
import { renderPage } from "../layout.tsx";
import { filterText } from "../paging.ts";
import { DeploymentsTable, EventLog, LaunchQueue, ServiceFacts, TasksTable, VersionsList, type ServiceData } from "./service-view.tsx";
import { DELETE_GROUP_OP, deleteGroup, showGroup } from "./service-group.tsx";
import { ServiceCrumbs, servicePath, servicesPage } from "./services.tsx";

/** What follows `/services` in the page's path: `/shop/web`. */
const restOf = (c: UiContext) => c.req.path.replace(/^\/ui\/[^/]+\/services/, "");

/** `normalize(raw)`, or undefined when `raw` is no such id. */
function tryId(normalize: (raw: string) => string, raw: string): string | undefined {
  try {
    return normalize(raw);
  } catch {
    return undefined;
  }
}

/** The app id in `/ui/:cluster/services/shop/web`; a path that is no app id is a 404. */
function appIdOf(c: UiContext): string {
  const rest = restOf(c);
  const id = tryId(normalizeAppId, rest);
  if (id === undefined) throw notFound(`'${rest.slice(0, 100)}' is not a service id.`);
  return id;
}

/** The service's page data, or undefined when no app has that id. */
async function load(c: UiContext, id: string): Promise<ServiceData | undefined> {
  const stub = clusterOf(c);
  const [app, deployments, queue, versions] = await Promise.all([
    stub.marathonApp(id),
    stub.marathonDeployments(),
    stub.marathonQueue(),
    stub.marathonVersions(id),
  ]);
  if (!app) return undefined;
  return { app, deployments: deployments.filter((d) => d.affectedApps.includes(id)), queue, versions: versions ?? [] };
}

/** The group's tree (from `groupTree`, as `/v2/groups` builds it) and the launch queue, or undefined when no app lies inside it. */
async function loadGroup(c: UiContext, id: string) {
  const stub = clusterOf(c);
  const [apps, queue] = await Promise.all([stub.marathonApps(), stub.marathonQueue()]);
  const group = groupTree(id, apps);
  return group ? { group, queue } : undefined;
}

/**
 * What a path under `/services` names, in this order: an app that exists, else a group that
 * exists (some app lies inside it), else nothing, which is a 404. An app never lies inside
 * another app, so no path names both.
 */
async function showPath(c: UiContext) {
  const rest = restOf(c);
  const appId = tryId(normalizeAppId, rest);
  const data = appId === undefined ? undefined : await load(c, appId);
  if (appId !== undefined && data) return showService(c, appId, data);
  const groupId = tryId(normalizeGroupId, rest);
  if (groupId === ROOT_GROUP) return c.redirect(servicePath(c.get("cluster").id, ROOT_GROUP), 303);
  const found = groupId === undefined ? undefined : await loadGroup(c, groupId);
  if (!found) throw notFound(`Service or group '${rest.slice(0, 100)}' does not exist.`);
  return showGroup(c, found.group, found.queue);
}

function Controls(props: { c: UiContext; data: ServiceData }) {
  const { c, data } = props;
  const action = servicePath(c.get("cluster").id, data.app.id);
  return (
    <div class="panel actions-row">
      <PostForm action={action} csrf={c.get("csrf")} op="scale" class="inline-form" label="Scale">
        <div>
          <label for="scale-instances">Instances</label>
          <input id="scale-instances" name="instances" type="number" min={0} max={10000} value={String(data.app.instances)} required />
        </div>
        <button type="submit">Scale</button>
      </PostForm>
      <PostForm action={action} csrf={c.get("csrf")} op="restart" class="inline-form" label="Restart">
        <button type="submit">Restart</button>
      </PostForm>
      <a class="button" href={`/ui/${c.get("cluster").id}/deploy?edit=${encodeURIComponent(data.app.id)}`}>
        Edit definition
      </a>
      <a class="button danger" href={`${action}?confirm=destroy#confirm`}>
        Destroy…
      </a>
    </div>
  );
}

/** Destroying asks the user to type the service's id, as DC/OS does: a slip of a key cannot remove a service. */
function ConfirmDestroy(props: { c: UiContext; id: string }) {
  const action = servicePath(props.c.get("cluster").id, props.id);
  return (
    <PostForm action={action} csrf={props.c.get("csrf")} op="destroy" class="panel" label="Confirm destroying the service">
      <h2 id="confirm">{`Destroy ${props.id}?`}</h2>
      <p>Its tasks are killed and its definition and versions are deleted. This cannot be undone.</p>
      <TypeToConfirm expected={props.id} force />
      <button type="submit" class="danger">
        Destroy the service
      </button>{" "}
      <a href={action}>Cancel</a>
    </PostForm>
  );
}

async function showService(c: UiContext, id: string, data: ServiceData) {
  const version = c.req.query("version");
  const shown = version ? await clusterOf(c).marathonVersion(id, version) : undefined;
  const q = filterText(c.req.query("q"));
  return renderPage(
    c,
    { title: id, section: "services" },
    <>
      <ServiceCrumbs clusterId={c.get("cluster").id} id={id} />
      <PageHeader title={id}>
        <ServiceLinks clusterId={c.get("cluster").id} app={data.app} />
      </PageHeader>
      {c.req.query("confirm") === "destroy" ? <ConfirmDestroy c={c} id={id} /> : null}
      <Controls c={c} data={data} />
      <div id="service-facts" data-live>
        <ServiceFacts data={data} />
      </div>
      <div id="service-queue" data-live>
        <LaunchQueue c={c} data={data} />
      </div>
      <h2>Tasks</h2>
      {(data.app.tasks?.length ?? 0) > 0 ? <FilterForm url={new URL(c.req.url)} label="Filter tasks by id or host" q={q} /> : null}
      <div id="service-tasks" data-live>
        <TasksTable c={c} data={data} q={q} />
      </div>
      <h2>Deployments</h2>
      <div id="service-deployments" data-live>
        <DeploymentsTable c={c} data={data} />
      </div>
      <EventLog appId={id} />
      <h2>Versions</h2>
      <div id="service-versions" data-live>
        <VersionsList c={c} data={data} />
      </div>
      {shown ? (
        <section aria-labelledby="version">
          <h2 id="version">{`Version ${time(version)}`}</h2>
          <pre tabindex={0}>{JSON.stringify(shown, null, 2)}</pre>
        </section>
      ) : null}
      <details>
        <summary>Current definition (JSON)</summary>
        <pre tabindex={0}>{JSON.stringify({ ...data.app, tasks: undefined }, null, 2)}</pre>
      </details>
    </>,
  );
}

/** Runs one of the page's forms; returns what to tell the user. */
async function act(c: UiContext, id: string, op: string): Promise<{ text: string; to?: string }> {
  const stub = clusterOf(c);
  if (op === "scale") {
    const raw = await formField(c, "instances");
    const instances = Number(raw);
    if (!/^\d{1,5}$/.test(raw) || instances > 10_000)
      throw new ApiError("invalid", `Instances must be a whole number from 0 to 10000, not '${raw.slice(0, 20)}'.`);
    const r = unwrap(await actingOf(c).marathonPatch(id, { instances }, false));
    return { text: `Scaling ${id} to ${instances} (deployment ${r.deploymentId}).` };
  }
  if (op === "reset-delay") {
    unwrap(await actingOf(c).marathonResetDelay(id));
    return { text: `Reset the launch delay of ${id}: its instances launch at the next offers.` };
  }
  if (op === "restart") return { text: `Restarting ${id} (deployment ${unwrap(await actingOf(c).marathonRestart(id, false)).deploymentId}).` };
  if (op === "destroy") {
    if ((await formField(c, "confirm")).trim() !== id) throw new ApiError("invalid", `Not destroyed: type the service id '${id}' exactly to confirm.`);
    unwrap(await actingOf(c).marathonDelete(id, (await formField(c, "force")) === "true"));
    return { text: `Destroying ${id}.`, to: `/ui/${c.get("cluster").id}/services` };
  }
  if (op === "rollback" || op === "stop-deployment") {
    const deployment = await formField(c, "deployment");
    const r = unwrap(await actingOf(c).marathonCancelDeployment(deployment, op === "stop-deployment"));
    return {
      text:
        op === "rollback"
          ? `Rolling back deployment ${deployment}${r ? ` (deployment ${r.deploymentId})` : ""}.`
          : `Stopped deployment ${deployment}; its tasks stay as they are.`,
    };
  }
  if (op === "revert") {
    const version = await formField(c, "version");
    const previous = await stub.marathonVersion(id, version);
    if (!previous) throw notFound(`Service '${id}' has no version '${version.slice(0, 40)}'.`);
    return { text: `Rolling ${id} back to version ${time(version)} (deployment ${unwrap(await actingOf(c).marathonReplace(previous, false)).deploymentId}).` };
  }
  if (op === "kill") {
    const task = await formField(c, "task");
    const r = unwrap(await actingOf(c).marathonKill([task], false, id));
    return { text: r.tasks.length > 0 ? `Killing ${task}; Marathon starts a replacement.` : `Task ${task} is not running.` };
  }
  throw new ApiError("malformed", `Unknown action '${op.slice(0, 40)}'.`);
}

/**
 * `/ui/:cluster/services`, each service's page with its forms (scale, restart, destroy,
 * rollbacks, kill, reset delay), and each group's page with its delete form.
 */
export const servicePages = new Hono<UiEnv>()
  .route("/", servicesPage)
  .get("/*", showPath)
  .post("/*", checkForm, async (c) => {
    const op = await formField(c, "op");
    if (op === DELETE_GROUP_OP) {
      const groupId = tryId(normalizeGroupId, restOf(c));
      if (groupId === undefined) throw notFound(`'${restOf(c).slice(0, 100)}' is not a group id.`);
      return deleteGroup(c, groupId);
    }
    const id = appIdOf(c);
    const back = servicePath(c.get("cluster").id, id);
    try {
      const done = await act(c, id, op);
      return redirectWithFlash(c, done.to ?? back, { kind: "ok", text: done.text });
    } catch (err) {
      if (!(err instanceof ApiError) || err.code === "internal") throw err;
      const hint = err.code === "conflict" ? " A deployment is in progress: wait for it, or roll it back or stop it below." : "";
      return redirectWithFlash(c, back, { kind: "error", text: `${err.message}${hint}` });
    }
  });
