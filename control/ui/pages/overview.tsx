import { Hono } from "hono";
import type { ClusterSnapshot } from "../../cluster/cluster.ts";
import { DataTable, PageHeader, Usage } from "../components.tsx";
import { clusterOf, type UiEnv } from "../context.ts";
import { appStatus, cpus, megabytes, taskState } from "../format.ts";
import { renderPage } from "../layout.tsx";
import type { JobView } from "./jobs.tsx";

type Resource = "cpus" | "mem" | "disk";

/** Totals over the agents Mesos counts (not unreachable ones), as `/metrics/snapshot` does. */
function allocation(snap: ClusterSnapshot, k: Resource) {
  const total = snap.agents.filter((a) => a.state !== "unreachable").reduce((n, a) => n + a.resources[k], 0);
  const used = Object.values(snap.usage).reduce((n, u) => n + u[k], 0);
  return { used, total };
}

function countBy<T>(items: T[], key: (t: T) => string): [string, number][] {
  const out = new Map<string, number>();
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + 1);
  return [...out].sort(([a], [b]) => a.localeCompare(b));
}

function Card(props: { title: string; total: number; rows: [string, number][]; href: string; unit: string }) {
  return (
    <section class="card" aria-labelledby={`card-${props.unit}`}>
      <h2 id={`card-${props.unit}`}>
        <a href={props.href}>{props.title}</a>
      </h2>
      <p class="big">{props.total}</p>
      <ul>
        {props.rows.map(([label, n]) => (
          <li>{`${n} ${label}`}</li>
        ))}
      </ul>
    </section>
  );
}

/** The allocation graph; graph.js draws it from the history service, or says why it cannot. */
function HistoryGraph(props: { clusterId: string }) {
  return (
    <figure class="graph" data-history-url={`/c/${props.clusterId}/history/minute`} aria-labelledby="graph-title">
      <figcaption>
        <h2 id="graph-title">Allocation over time</h2>
        <p data-graph-status role="status">
          The graph needs JavaScript.
        </p>
        <p data-graph-summary></p>
      </figcaption>
      <div data-graph></div>
      <details>
        <summary>Recent samples as a table</summary>
        <DataTable label="Recent allocation samples" headers={["Time (UTC)", "CPU", "Memory", "Disk"]} tbody={{ "data-graph-rows": true }} />
      </details>
    </figure>
  );
}

/** `/ui/:cluster`: counts of agents, services and tasks by state, allocation now and over time. */
export const overviewPage = new Hono<UiEnv>().get("/", async (c) => {
  const stub = clusterOf(c);
  const [snap, apps, jobList] = await Promise.all([stub.snapshot("none"), stub.marathonApps(), stub.jobs(["activeRuns"])]);
  const jobs: JobView[] = jobList;
  const id = c.get("cluster").id;
  const activeRuns = jobs.reduce((n, j) => n + (j.activeRuns?.length ?? 0), 0);
  const resources: [Resource, string, (n: number) => string][] = [
    ["cpus", "CPU", cpus],
    ["mem", "Memory", megabytes],
    ["disk", "Disk", megabytes],
  ];
  return renderPage(
    c,
    { title: "Overview", section: "overview", scripts: ["graph.js"] },
    <>
      <PageHeader title={`Cluster ${c.get("cluster").name}`} />
      <div id="overview-live" data-live>
        <div class="cards">
          <Card title="Nodes" unit="agents" href={`/ui/${id}/nodes`} total={snap.agents.length} rows={countBy(snap.agents, (a) => a.state)} />
          <Card title="Services" unit="services" href={`/ui/${id}/services`} total={apps.length} rows={countBy(apps, (a) => appStatus(a).toLowerCase())} />
          <Card
            title="Tasks"
            unit="tasks"
            href={`/ui/${id}/services`}
            total={Object.values(snap.tasksByState).reduce((n, count) => n + count, 0)}
            rows={Object.entries(snap.tasksByState).map(([s, n]): [string, number] => [taskState(s).toLowerCase(), n])}
          />
          <Card title="Jobs" unit="jobs" href={`/ui/${id}/jobs`} total={jobs.length} rows={[["active runs", activeRuns]]} />
        </div>
        <section class="panel" aria-labelledby="allocation-title">
          <h2 id="allocation-title">Allocated now</h2>
          <dl class="facts">
            {resources.map(([k, label, fmt]) => {
              const a = allocation(snap, k);
              return (
                <div>
                  <dt>{label}</dt>
                  <dd>
                    <Usage used={a.used} total={a.total} format={fmt} label={`${label} allocated`} />
                  </dd>
                </div>
              );
            })}
          </dl>
        </section>
      </div>
      <HistoryGraph clusterId={id} />
    </>,
  );
});
