import { DataTable, Empty, Facts, Pager, PostForm, StateBadge, Time } from "../components.tsx";
import type { UiContext, ClusterRpc } from "../context.ts";
import { appStatus, cpus, instancesSummary, megabytes, time } from "../format.ts";
import { byKeys, matchesFilter, pageOf, parsePaging } from "../paging.ts";
import { isDelayed, runs, servicePath, type AppInfo, type QueueEntry } from "./services.tsx";

/** The parts of a service's page: its tasks, deployments, events and versions. */

export type TaskInfo = NonNullable<AppInfo["tasks"]>[number];
export type DeploymentInfo = Awaited<ReturnType<ClusterRpc["marathonDeployments"]>>[number];

export interface ServiceData {
  app: AppInfo;
  deployments: DeploymentInfo[];
  queue: QueueEntry[];
  versions: string[];
}

/** `host:port, port` as a task's address list; the host alone when it has no ports. */
function address(t: TaskInfo): string {
  return t.ports.length === 0 ? t.host : t.ports.map((p) => `${t.host}:${p}`).join(", ");
}

/**
 * A task's health: from its health check results when there are any (DCX's health checks fill
 * `healthCheckResults`), pending while an app with checks has none yet, else not checked.
 */
function health(t: TaskInfo, checked: boolean): string {
  const results: unknown[] = t.healthCheckResults;
  const alive = results.map((r) => (typeof r === "object" && r !== null && "alive" in r ? r.alive === true : undefined));
  if (alive.length > 0 && alive.every((a) => a === true)) return "HEALTHY";
  if (alive.some((a) => a === false)) return "UNHEALTHY";
  return checked ? "PENDING" : "–";
}

/** A service's tasks by state, then id: one order on every refresh, so pages do not shuffle. */
const taskOrder = byKeys<TaskInfo>(
  (t) => t.state,
  (t) => t.id,
);

/**
 * One page of the service's tasks, filtered by `?q=` (task id or host). The app's RPC embeds
 * every task; only the page's rows are rendered.
 */
export function TasksTable(props: { c: UiContext; data: ServiceData; q: string }) {
  const { c, data, q } = props;
  const all = data.app.tasks ?? [];
  const checked = (data.app.healthChecks?.length ?? 0) > 0;
  if (all.length === 0) return <Empty>No tasks.</Empty>;
  const url = new URL(c.req.url);
  const tasks = pageOf(
    all.filter((t) => matchesFilter(q, t.id, t.host)).sort(taskOrder),
    parsePaging((n) => c.req.query(n)),
  );
  if (tasks.total === 0) return <Empty>No task matches the filter.</Empty>;
  return (
    <>
      <DataTable label="Tasks" headers={["Task", "State", "Address", "Health", "Started", "Actions"]}>
        {tasks.items.map((t) => (
          <tr>
            <th scope="row" class="id">
              <a href={`/ui/${c.get("cluster").id}/tasks/${encodeURIComponent(t.id)}`}>{t.id}</a>
            </th>
            <td>
              <StateBadge state={t.state} />
              {t.message ? <div class="hint">{t.message}</div> : null}
            </td>
            <td class="id">{address(t)}</td>
            <td>{health(t, checked) === "–" ? "–" : <StateBadge state={health(t, checked)} />}</td>
            <td>
              <Time iso={t.startedAt} />
            </td>
            <td>
              <a href={`/ui/${c.get("cluster").id}/tasks/${encodeURIComponent(t.id)}#logs`}>Logs</a>
              <PostForm action={servicePath(c.get("cluster").id, data.app.id)} csrf={c.get("csrf")} op="kill" class="inline-form" label={`Kill task ${t.id}`}>
                <input type="hidden" name="task" value={t.id} />
                <button type="submit" class="link-button">
                  Kill
                </button>
              </PostForm>
            </td>
          </tr>
        ))}
      </DataTable>
      <Pager page={tasks} url={url} label="Tasks" />
    </>
  );
}

function waitingText(d: DeploymentInfo): string {
  if (!d.waiting) return "";
  const reasons = Object.entries(d.waiting.reasons).map(([r, n]) => `${r} (${n} agents)`);
  const delay = d.waiting.delayedUntil ? `launch delayed until ${time(d.waiting.delayedUntil)}` : "";
  return [`${d.waiting.instances} waiting`, ...reasons, delay].filter(Boolean).join("; ");
}

export function DeploymentsTable(props: { c: UiContext; data: ServiceData }) {
  const { c, data } = props;
  if (data.deployments.length === 0) return <Empty>No deployment in progress.</Empty>;
  const action = servicePath(c.get("cluster").id, data.app.id);
  return (
    <DataTable label="Deployments" headers={["Deployment", "Action", "Progress", "Actions"]}>
      {data.deployments.map((d) => (
        <tr>
          <th scope="row" class="id">
            {d.id}
          </th>
          <td>{d.currentActions.map((a) => a.action).join(", ")}</td>
          <td>
            {`step ${d.currentStep} of ${d.totalSteps}; ${instancesSummary(data.app)}`}
            {d.waiting ? <div class="hint">{waitingText(d)}</div> : null}
          </td>
          <td class="actions-row">
            <PostForm action={action} csrf={c.get("csrf")} op="rollback" class="inline-form" label={`Roll back deployment ${d.id}`}>
              <input type="hidden" name="deployment" value={d.id} />
              <button type="submit">Roll back</button>
            </PostForm>
            <PostForm action={action} csrf={c.get("csrf")} op="stop-deployment" class="inline-form" label={`Stop deployment ${d.id}`}>
              <input type="hidden" name="deployment" value={d.id} />
              <button type="submit">Stop</button>
            </PostForm>
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

export function VersionsList(props: { c: UiContext; data: ServiceData }) {
  const { c, data } = props;
  const action = servicePath(c.get("cluster").id, data.app.id);
  return (
    <DataTable label="Versions" headers={["Version", "Actions"]}>
      {data.versions.map((v) => (
        <tr>
          <th scope="row">
            <a href={`${action}?version=${encodeURIComponent(v)}#version`}>{time(v)}</a>
            {v === data.app.version ? " (current)" : ""}
          </th>
          <td>
            {v === data.app.version ? (
              "–"
            ) : (
              <PostForm action={action} csrf={c.get("csrf")} op="revert" class="inline-form" label={`Roll back to version ${v}`}>
                <input type="hidden" name="version" value={v} />
                <button type="submit">Roll back to this version</button>
              </PostForm>
            )}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

/** The service's facts: what it runs and how many instances run. */
export function ServiceFacts(props: { data: ServiceData }) {
  const { app, queue } = props.data;
  const waiting = queueEntry(props.data);
  return (
    <Facts
      items={[
        ["Status", <StateBadge state={appStatus(app, isDelayed(queue, app.id))} />],
        ["Instances", instancesSummary(app)],
        ["Runs", runs(app) || "–"],
        ["Resources", `${cpus(app.cpus)} CPU, ${megabytes(app.mem)}, disk ${megabytes(app.disk)}`],
        ["Version", <Time iso={app.version} />],
        ["Waiting to launch", waiting ? String(waiting.count) : "–"],
        [
          "Last task failure",
          app.lastTaskFailure ? `${app.lastTaskFailure.state} ${app.lastTaskFailure.message} (${time(app.lastTaskFailure.timestamp)})` : "–",
        ],
      ]}
    />
  );
}

/** The app's entry in Marathon's launch queue (`/v2/queue`), if it has one. */
const queueEntry = (data: ServiceData) => data.queue.find((q) => q.app?.id === data.app.id);

/**
 * Why the app's instances wait (`/v2/queue`): a backoff delay after failed tasks, which the
 * operator may reset, and the reasons the last offers were declined.
 */
export function LaunchQueue(props: { c: UiContext; data: ServiceData }) {
  const entry = queueEntry(props.data);
  if (!entry) return null;
  const reasons = entry.processedOffersSummary.rejectSummaryLastOffers;
  const delayed = entry.delay.timeLeftSeconds > 0;
  if (!delayed && reasons.length === 0) return null;
  return (
    <section class="panel" aria-labelledby="queue-title">
      <h2 id="queue-title">{`Launch queue: ${entry.count} waiting`}</h2>
      {delayed ? <LaunchDelay c={props.c} appId={props.data.app.id} seconds={entry.delay.timeLeftSeconds} /> : null}
      {reasons.length > 0 ? (
        <>
          <h3>Why instances wait</h3>
          <ul class="queue-reasons">
            {reasons.map((r) => (
              <li>{`${r.reason}: ${r.declined} of ${r.processed} ${r.processed === 1 ? "agent" : "agents"}`}</li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

function LaunchDelay(props: { c: UiContext; appId: string; seconds: number }) {
  return (
    <div class="actions-row">
      <p class="queue-delay">{`Launches are delayed by backoff after failed tasks: the next one in ${props.seconds} s.`}</p>
      <PostForm
        action={servicePath(props.c.get("cluster").id, props.appId)}
        csrf={props.c.get("csrf")}
        op="reset-delay"
        class="inline-form"
        label="Reset the launch delay"
      >
        <button type="submit">Reset delay</button>
      </PostForm>
    </div>
  );
}

/** Events about this app, as they arrive on the cluster's event stream (ui.js fills it). */
export function EventLog(props: { appId: string }) {
  return (
    <section aria-labelledby="events-title">
      <h2 id="events-title">Events</h2>
      <p class="hint" data-event-status>
        Live events need JavaScript.
      </p>
      <ol class="event-log panel" role="log" aria-labelledby="events-title" data-event-log data-event-filter={props.appId}>
        <li data-event-empty>No events since this page was opened.</li>
      </ol>
    </section>
  );
}
