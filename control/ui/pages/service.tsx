import { Hono } from "hono";
import { unwrap } from "../../api/marathon/outcome.ts";
import { normalizeAppId } from "../../cluster/frameworks/marathon/app-definition.ts";
import { ApiError, notFound } from "../../errors.ts";
import { PageHeader, PostForm } from "../components.tsx";
import { checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { time } from "../format.ts";
import { renderPage } from "../layout.tsx";
import { DeploymentsTable, EventLog, LaunchQueue, ServiceFacts, TasksTable, VersionsList, type ServiceData } from "./service-view.tsx";
import { servicePath, servicesPage } from "./services.tsx";

/** The app id in `/ui/:cluster/services/shop/web`; a path that is no app id is a 404. */
function appIdOf(c: UiContext): string {
  const rest = c.req.path.replace(/^\/ui\/[^/]+\/services/, "");
  try {
    return normalizeAppId(rest);
  } catch {
    throw notFound(`'${rest.slice(0, 100)}' is not a service id.`);
  }
}

async function load(c: UiContext, id: string): Promise<ServiceData> {
  const stub = clusterOf(c);
  const [app, deployments, queue, versions] = await Promise.all([stub.marathonApp(id), stub.marathonDeployments(), stub.marathonQueue(), stub.marathonVersions(id)]);
  if (!app) throw notFound(`Service '${id}' does not exist.`);
  return { app, deployments: deployments.filter((d) => d.affectedApps.includes(id)), queue, versions: versions ?? [] };
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
      <div class="field">
        <label for="confirm-id">{`Type ${props.id} to confirm`}</label>
        <input id="confirm-id" name="confirm" type="text" autocomplete="off" required />
      </div>
      <div class="field">
        <label>
          <input type="checkbox" name="force" value="true" />
          {" Even if a deployment is in progress (force)"}
        </label>
      </div>
      <button type="submit" class="danger">
        Destroy the service
      </button>{" "}
      <a href={action}>Cancel</a>
    </PostForm>
  );
}

async function showService(c: UiContext) {
  const id = appIdOf(c);
  const data = await load(c, id);
  const version = c.req.query("version");
  const shown = version ? await clusterOf(c).marathonVersion(id, version) : undefined;
  return renderPage(
    c,
    { title: id, section: "services" },
    <>
      <PageHeader title={id} />
      {c.req.query("confirm") === "destroy" ? <ConfirmDestroy c={c} id={id} /> : null}
      <Controls c={c} data={data} />
      <div id="service-facts" data-live>
        <ServiceFacts data={data} />
      </div>
      <div id="service-queue" data-live>
        <LaunchQueue c={c} data={data} />
      </div>
      <h2>Tasks</h2>
      <div id="service-tasks" data-live>
        <TasksTable c={c} data={data} />
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
    if (!/^\d{1,5}$/.test(raw) || instances > 10_000) throw new ApiError("invalid", `Instances must be a whole number from 0 to 10000, not '${raw.slice(0, 20)}'.`);
    const r = unwrap(await stub.marathonPatch(id, { instances }, false));
    return { text: `Scaling ${id} to ${instances} (deployment ${r.deploymentId}).` };
  }
  if (op === "reset-delay") {
    unwrap(await stub.marathonResetDelay(id));
    return { text: `Reset the launch delay of ${id}: its instances launch at the next offers.` };
  }
  if (op === "restart") return { text: `Restarting ${id} (deployment ${unwrap(await stub.marathonRestart(id, false)).deploymentId}).` };
  if (op === "destroy") {
    if ((await formField(c, "confirm")).trim() !== id) throw new ApiError("invalid", `Not destroyed: type the service id '${id}' exactly to confirm.`);
    unwrap(await stub.marathonDelete(id, (await formField(c, "force")) === "true"));
    return { text: `Destroying ${id}.`, to: `/ui/${c.get("cluster").id}/services` };
  }
  if (op === "rollback" || op === "stop-deployment") {
    const deployment = await formField(c, "deployment");
    const r = unwrap(await stub.marathonCancelDeployment(deployment, op === "stop-deployment"));
    return { text: op === "rollback" ? `Rolling back deployment ${deployment}${r ? ` (deployment ${r.deploymentId})` : ""}.` : `Stopped deployment ${deployment}; its tasks stay as they are.` };
  }
  if (op === "revert") {
    const version = await formField(c, "version");
    const previous = await stub.marathonVersion(id, version);
    if (!previous) throw notFound(`Service '${id}' has no version '${version.slice(0, 40)}'.`);
    return { text: `Rolling ${id} back to version ${time(version)} (deployment ${unwrap(await stub.marathonReplace(previous, false)).deploymentId}).` };
  }
  if (op === "kill") {
    const task = await formField(c, "task");
    const r = unwrap(await stub.marathonKill([task], false, id));
    return { text: r.tasks.length > 0 ? `Killing ${task}; Marathon starts a replacement.` : `Task ${task} is not running.` };
  }
  throw new ApiError("malformed", `Unknown action '${op.slice(0, 40)}'.`);
}

/** `/ui/:cluster/services` and each service's page with its forms (scale, restart, destroy, rollbacks, kill, reset delay). */
export const servicePages = new Hono<UiEnv>()
  .route("/", servicesPage)
  .get("/*", showService)
  .post("/*", checkForm, async (c) => {
    const id = appIdOf(c);
    const back = servicePath(c.get("cluster").id, id);
    try {
      const done = await act(c, id, await formField(c, "op"));
      return redirectWithFlash(c, done.to ?? back, { kind: "ok", text: done.text });
    } catch (err) {
      if (!(err instanceof ApiError) || err.code === "internal") throw err;
      const hint = err.code === "conflict" ? " A deployment is in progress: wait for it, or roll it back or stop it below." : "";
      return redirectWithFlash(c, back, { kind: "error", text: `${err.message}${hint}` });
    }
  });
