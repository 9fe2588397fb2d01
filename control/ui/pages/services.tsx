import { Hono } from "hono";
import { flattenGroups, groupTree, ROOT_GROUP, type GroupNode } from "../../cluster/frameworks/marathon/group-tree.ts";
import { Breadcrumbs, DataTable, Empty, PageHeader, Pager, StateBadge, type Crumb } from "../components.tsx";
import { clusterOf, type AppInfo, type ClusterRpc, type UiContext, type UiEnv } from "../context.ts";
import { appStatus, cpus, groupCounts, megabytes } from "../format.ts";
import { renderPage } from "../layout.tsx";
import { pageOf, parsePaging } from "../paging.ts";
import { ServiceLinks } from "./service-links.tsx";

/** An app as `GET /v2/apps` shows it (after the RPC's structured clone). */
export type { AppInfo };
export type QueueEntry = Awaited<ReturnType<ClusterRpc["marathonQueue"]>>[number];

/** Whether the app's launches wait out a backoff delay. */
export const isDelayed = (queue: QueueEntry[], id: string) => queue.some((q) => q.app?.id === id && q.delay.timeLeftSeconds > 0);

/** What an app runs: its Docker image, else its command. */
export function runs(app: AppInfo): string {
  const image = app.container?.docker?.image;
  if (image) return image;
  return app.cmd ?? (app.args ?? []).join(" ");
}

/** A group of apps, as the Services pages show it: built from the apps by `groupTree`. */
export type AppGroup = GroupNode<AppInfo>;

/** The page of a service or a group: its id's segments under `/services` (the root group is `/services`). */
export const servicePath = (clusterId: string, id: string) => `/ui/${clusterId}/services${id === ROOT_GROUP ? "" : id}`;

/** The trail from Services down to a group or service: `Services / prod / web`, each step a link. */
export function ServiceCrumbs(props: { clusterId: string; id: string }) {
  const segments = props.id.split("/").filter(Boolean);
  const crumbs: Crumb[] = [{ label: "Services", href: servicePath(props.clusterId, ROOT_GROUP) }];
  segments.forEach((segment, i) => crumbs.push({ label: segment, href: servicePath(props.clusterId, `/${segments.slice(0, i + 1).join("/")}`) }));
  return <Breadcrumbs crumbs={crumbs} />;
}

/** Every app inside a group, at any depth. */
export const appsInside = (group: AppGroup): AppInfo[] => flattenGroups(group).flatMap((g) => g.apps);

function ServiceRow(props: { app: AppInfo; clusterId: string; delayed: boolean }) {
  const { app } = props;
  const healthChecked = (app.healthChecks?.length ?? 0) > 0;
  return (
    <tr>
      <th scope="row">
        <a href={servicePath(props.clusterId, app.id)}>{app.id}</a>
        {app.labels?.DCOS_PACKAGE_NAME ? (
          <div class="hint">{`Package ${app.labels.DCOS_PACKAGE_NAME} ${app.labels.DCOS_PACKAGE_VERSION ?? ""}`.trim()}</div>
        ) : null}
        <div class="hint">
          <ServiceLinks clusterId={props.clusterId} app={app} />
        </div>
      </th>
      <td>
        <StateBadge state={appStatus(app, props.delayed)} />
      </td>
      <td class="num">{`${app.tasksRunning}/${app.instances}`}</td>
      <td class="num">{healthChecked ? `${app.tasksHealthy}/${app.instances}` : "–"}</td>
      <td class="num">{cpus(app.cpus)}</td>
      <td class="num">{megabytes(app.mem)}</td>
      <td class="id">{runs(app).slice(0, 80)}</td>
    </tr>
  );
}

/** A subgroup as a folder: how many apps lie inside it, their instances summed, and how many apps are in each status. */
function FolderRow(props: { group: AppGroup; clusterId: string; queue: QueueEntry[] }) {
  const counts = groupCounts(appsInside(props.group), (app) => isDelayed(props.queue, app.id));
  return (
    <tr class="folder-row">
      <th scope="row">
        <a class="folder" href={servicePath(props.clusterId, props.group.id)}>
          {props.group.id}
        </a>
        <div class="hint">{`Group of ${counts.apps} ${counts.apps === 1 ? "app" : "apps"}`}</div>
      </th>
      <td>
        <span class="status-summary">
          {counts.statuses.map(([status, n]) => (
            <StateBadge state={status} count={n} />
          ))}
        </span>
      </td>
      <td class="num">{`${counts.running}/${counts.instances}`}</td>
      <td class="num">{counts.checked > 0 ? `${counts.healthy}/${counts.checked}` : "–"}</td>
      <td class="num">–</td>
      <td class="num">–</td>
      <td>–</td>
    </tr>
  );
}

/** One row of a group's listing: a subgroup (shown as a folder) or an app. */
type ListingRow = { folder: AppGroup } | { app: AppInfo };

/**
 * A group's contents, a page at a time (`?page=`, `?limit=`): its subgroups as folders first,
 * then its own apps, each in id order as `groupTree` builds them, so pages keep their rows.
 * Only the page's rows are counted and rendered.
 */
export function GroupListing(props: { c: UiContext; group: AppGroup; queue: QueueEntry[] }) {
  const { c, group, queue } = props;
  const clusterId = c.get("cluster").id;
  const label = group.id === ROOT_GROUP ? "Services" : `Services in ${group.id}`;
  const rows: ListingRow[] = [...group.groups.map((folder) => ({ folder })), ...group.apps.map((app) => ({ app }))];
  const page = pageOf(
    rows,
    parsePaging((n) => c.req.query(n)),
  );
  return (
    <>
      <DataTable
        label={label}
        caption={`${label}: groups and services with their instances`}
        headers={[
          "Service",
          "Status",
          { text: "Running", numeric: true },
          { text: "Healthy", numeric: true },
          { text: "CPU", numeric: true },
          { text: "Memory", numeric: true },
          "Runs",
        ]}
      >
        {page.items.map((row) =>
          "folder" in row ? (
            <FolderRow group={row.folder} clusterId={clusterId} queue={queue} />
          ) : (
            <ServiceRow app={row.app} clusterId={clusterId} delayed={isDelayed(queue, row.app.id)} />
          ),
        )}
      </DataTable>
      <Pager page={page} url={new URL(c.req.url)} label={label} />
    </>
  );
}

/** `/ui/:cluster/services`: the root group: its subgroups as folders, its apps with their status and instance counts. */
export const servicesPage = new Hono<UiEnv>().get("/", async (c) => {
  const stub = clusterOf(c);
  const [apps, queue] = await Promise.all([stub.marathonApps(), stub.marathonQueue()]);
  const id = c.get("cluster").id;
  const root = groupTree(ROOT_GROUP, apps);
  return renderPage(
    c,
    { title: "Services", section: "services" },
    <>
      <PageHeader title="Services">
        <a class="button primary" href={`/ui/${id}/deploy`}>
          Deploy a service
        </a>
      </PageHeader>
      <div id="services-live" data-live>
        {!root || apps.length === 0 ? <Empty>No services yet. Deploy one with the button above.</Empty> : <GroupListing c={c} group={root} queue={queue} />}
      </div>
    </>,
  );
});
