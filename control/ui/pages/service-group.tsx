import { unwrap } from "../../operations/outcome.ts";
import { inGroup, parentGroup, ROOT_GROUP } from "../../cluster/frameworks/marathon/group-tree.ts";
import { ApiError } from "../../errors.ts";
import { Facts, PageHeader, PostForm, StateBadge, TypeToConfirm } from "../components.tsx";
import { actingOf, clusterOf, formField, redirectWithFlash, type UiContext } from "../context.ts";
import { groupCounts } from "../format.ts";
import { renderPage } from "../layout.tsx";
import { appsInside, GroupListing, isDelayed, ServiceCrumbs, servicePath, type AppGroup, type QueueEntry } from "./services.tsx";

/** A group's page: the folder a DC/OS user opens on the Services page, with its own actions. */

/** The form op that deletes a group (the service page's other ops act on an app). */
export const DELETE_GROUP_OP = "delete-group";

/** The group page's confirmation step, which lists what deleting removes. */
const confirmPath = (c: UiContext, id: string) => `${servicePath(c.get("cluster").id, id)}?confirm=delete#confirm`;

function GroupFacts(props: { group: AppGroup; queue: QueueEntry[] }) {
  const counts = groupCounts(appsInside(props.group), (app) => isDelayed(props.queue, app.id));
  return (
    <Facts
      items={[
        ["Services inside", String(counts.apps)],
        ["Instances", `${counts.running}/${counts.instances} running${counts.checked > 0 ? `, ${counts.healthy}/${counts.checked} healthy` : ""}`],
        [
          "Status",
          <span class="status-summary">
            {counts.statuses.map(([status, n]) => (
              <StateBadge state={status} count={n} />
            ))}
          </span>,
        ],
      ]}
    />
  );
}

function GroupActions(props: { c: UiContext; id: string }) {
  const clusterId = props.c.get("cluster").id;
  return (
    <>
      <a class="button primary" href={`/ui/${clusterId}/deploy?group=${encodeURIComponent(props.id)}`}>
        Deploy into this group
      </a>
      <a class="button danger" href={confirmPath(props.c, props.id)}>
        Delete group…
      </a>
    </>
  );
}

/**
 * Deleting a group removes every app inside it, at any depth: the step names each of them and,
 * as destroying a service does, asks for the group's id to be typed.
 */
function ConfirmDeleteGroup(props: { c: UiContext; group: AppGroup }) {
  const { c, group } = props;
  const apps = appsInside(group);
  return (
    <PostForm action={servicePath(c.get("cluster").id, group.id)} csrf={c.get("csrf")} op={DELETE_GROUP_OP} class="panel" label="Confirm deleting the group">
      <h2 id="confirm">{`Delete ${group.id}?`}</h2>
      {/* What the user was shown: the delete is refused if the group holds anything else by then. */}
      <input type="hidden" name="apps" value={apps.map((app) => app.id).join(" ")} />
      <p>{`These ${apps.length === 1 ? "service is" : `${apps.length} services are`} destroyed: their tasks are killed and their definitions and versions are deleted. This cannot be undone.`}</p>
      <ul class="delete-list" aria-label="Services that will be removed">
        {apps.map((app) => (
          <li class="id">{app.id}</li>
        ))}
      </ul>
      <TypeToConfirm expected={group.id} force />
      <button type="submit" class="danger">
        Delete the group
      </button>{" "}
      <a href={servicePath(c.get("cluster").id, group.id)}>Cancel</a>
    </PostForm>
  );
}

/** `/ui/:cluster/services/prod`: a group's subgroups and apps, with its actions. */
export function showGroup(c: UiContext, group: AppGroup, queue: QueueEntry[]) {
  const clusterId = c.get("cluster").id;
  return renderPage(
    c,
    { title: group.id, section: "services" },
    <>
      <ServiceCrumbs clusterId={clusterId} id={group.id} />
      <PageHeader title={group.id}>
        <GroupActions c={c} id={group.id} />
      </PageHeader>
      {c.req.query("confirm") === "delete" ? <ConfirmDeleteGroup c={c} group={group} /> : null}
      <div id="group-live" data-live>
        <GroupFacts group={group} queue={queue} />
        <GroupListing c={c} group={group} queue={queue} />
      </div>
    </>,
  );
}

/** The closest group above `id` that still exists (a group exists while an app lies inside it); at worst the root. */
function nearestGroup(id: string, appIds: readonly string[]): string {
  let group = parentGroup(id);
  while (group !== ROOT_GROUP && !appIds.some((app) => inGroup(app, group))) group = parentGroup(group);
  return group;
}

/**
 * Deletes the group through the same Durable Object method as `DELETE /v2/groups/{id}`, then
 * shows the group it was in. A refusal (a deployment holds an app, the id was mistyped) goes
 * back to the confirmation step, which offers to force.
 */
export async function deleteGroup(c: UiContext, id: string): Promise<Response> {
  const back = confirmPath(c, id);
  try {
    if (id === ROOT_GROUP) throw new ApiError("invalid", "The root group cannot be deleted from here: delete its groups and services one by one.");
    if ((await formField(c, "confirm")).trim() !== id) throw new ApiError("invalid", `Not deleted: type the group id '${id}' exactly to confirm.`);
    const stub = clusterOf(c);
    const before = (await stub.marathonApps([])).map((app) => app.id);
    const shown = (await formField(c, "apps")).split(" ").filter(Boolean).sort().join(" ");
    if (
      shown !==
      before
        .filter((app) => inGroup(app, id))
        .sort()
        .join(" ")
    ) {
      throw new ApiError("invalid", `Not deleted: the services in ${id} changed since this page was opened. Review the list below and confirm again.`);
    }
    const n = unwrap(await actingOf(c).marathonDeleteGroup(id, (await formField(c, "force")) === "true")).deploymentIds.length;
    const left = (await stub.marathonApps([])).map((app) => app.id);
    return redirectWithFlash(c, servicePath(c.get("cluster").id, nearestGroup(id, left)), {
      kind: "ok",
      text: `Deleting group ${id}: stopping ${n} ${n === 1 ? "service" : "services"}.`,
    });
  } catch (err) {
    if (!(err instanceof ApiError) || err.code === "internal") throw err;
    const hint = err.code === "conflict" ? " A deployment is in progress: tick force to delete the group anyway, or wait for it." : "";
    return redirectWithFlash(c, back, { kind: "error", text: `${err.message}${hint}` });
  }
}
