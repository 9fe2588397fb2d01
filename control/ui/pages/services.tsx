import { Hono } from "hono";
import { DataTable, Empty, PageHeader, StateBadge } from "../components.tsx";
import { clusterOf, type ClusterRpc, type UiEnv } from "../context.ts";
import { appStatus, cpus, megabytes } from "../format.ts";
import { renderPage } from "../layout.tsx";

/** An app as `GET /v2/apps` shows it (after the RPC's structured clone). */
export type AppInfo = Awaited<ReturnType<ClusterRpc["marathonApps"]>>[number];
export type QueueEntry = Awaited<ReturnType<ClusterRpc["marathonQueue"]>>[number];

/** Whether the app's launches wait out a backoff delay. */
export const isDelayed = (queue: QueueEntry[], id: string) => queue.some((q) => q.app?.id === id && q.delay.timeLeftSeconds > 0);

/** What an app runs: its Docker image, else its command. */
export function runs(app: AppInfo): string {
  const image = app.container?.docker?.image;
  if (image) return image;
  return app.cmd ?? (app.args ?? []).join(" ");
}

/** The service page's path: the app id's segments under `/services`. */
export const servicePath = (clusterId: string, appId: string) => `/ui/${clusterId}/services${appId}`;

function ServiceRow(props: { app: AppInfo; clusterId: string; delayed: boolean }) {
  const { app } = props;
  const healthChecked = (app.healthChecks?.length ?? 0) > 0;
  return (
    <tr>
      <th scope="row">
        <a href={servicePath(props.clusterId, app.id)}>{app.id}</a>
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

/** `/ui/:cluster/services`: every Marathon app with its status and instance counts. */
export const servicesPage = new Hono<UiEnv>().get("/", async (c) => {
  const stub = clusterOf(c);
  const [apps, queue] = await Promise.all([stub.marathonApps(), stub.marathonQueue()]);
  const id = c.get("cluster").id;
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
        {apps.length === 0 ? (
          <Empty>No services yet. Deploy one with the button above.</Empty>
        ) : (
          <DataTable label="Services" caption="Services and their instances" headers={["Service", "Status", { text: "Running", numeric: true }, { text: "Healthy", numeric: true }, { text: "CPU", numeric: true }, { text: "Memory", numeric: true }, "Runs"]}>
            {apps.map((app) => (
              <ServiceRow app={app} clusterId={id} delayed={isDelayed(queue, app.id)} />
            ))}
          </DataTable>
        )}
      </div>
    </>,
  );
});
