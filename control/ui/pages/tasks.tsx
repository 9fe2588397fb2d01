import { Hono } from "hono";
import { notFound } from "../../errors.ts";
import { Facts, PageHeader, StateBadge, Time } from "../components.tsx";
import { clusterOf, type UiEnv } from "../context.ts";
import { cpus, megabytes } from "../format.ts";
import { renderPage } from "../layout.tsx";
import { servicePath } from "./services.tsx";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * A task's output: ui.js reads the API's logs route with the session cookie, shows the last
 * lines and follows new ones live. Without scripts, a link opens the plain-text tail.
 */
function LogViewer(props: { url: string }) {
  return (
    <section id="logs" class="logs" data-logs-url={props.url} aria-labelledby="logs-title">
      <h2 id="logs-title">Logs</h2>
      <fieldset>
        <legend class="visually-hidden">Which output, and whether to follow it</legend>
        <label>
          <input type="radio" name="stream" value="stdout" data-logs-stream checked /> stdout
        </label>
        <label>
          <input type="radio" name="stream" value="stderr" data-logs-stream /> stderr
        </label>
        <label>
          <input type="checkbox" data-logs-follow checked /> Follow live
        </label>
      </fieldset>
      <p data-logs-status role="status">
        {"Logs are shown with JavaScript. Without it, open "}
        <a href={`${props.url}?stream=stdout&tail=1000`}>the last 1000 lines of stdout</a>.
      </p>
      <pre data-logs-output role="region" tabindex={0} aria-label="Task output"></pre>
    </section>
  );
}

/** `/ui/:cluster/tasks/:taskId`: one task (live or recently ended), and its logs. */
export const taskPages = new Hono<UiEnv>().get("/:taskId", async (c) => {
  const taskId = c.req.param("taskId");
  const task = await clusterOf(c).task(taskId);
  if (!task) throw notFound(`Task '${taskId.slice(0, 200)}' does not exist (ended tasks are kept for a day).`);
  const clusterId = c.get("cluster").id;
  const owner =
    task.framework === "marathon" ? (
      <a href={servicePath(clusterId, task.group)}>{`service ${task.group}`}</a>
    ) : (
      <a href={`/ui/${clusterId}/jobs/${task.group}`}>{`job ${task.group}`}</a>
    );
  return renderPage(
    c,
    { title: `Task ${taskId}`, section: task.framework === "marathon" ? "services" : "jobs" },
    <>
      <PageHeader title={`Task ${taskId}`} />
      <div id="task-facts" data-live>
        <Facts
          items={[
            ["State", <StateBadge state={task.state} />],
            ["Message", task.message ?? "–"],
            ["Of", owner],
            ["Node", <a href={`/ui/${clusterId}/nodes/${encodeURIComponent(task.agentId)}`}>{task.host}</a>],
            ["Ports", task.ports.length ? task.ports.map((p) => `${task.host}:${p}`).join(", ") : "–"],
            ["Health", task.healthy === null ? "–" : <StateBadge state={task.healthy ? "HEALTHY" : "UNHEALTHY"} />],
            ["Resources", `${cpus(task.resources.cpus)} CPU, ${megabytes(task.resources.mem)}`],
            ["Staged", <Time iso={iso(task.stagedAt)} />],
            ["Started", <Time iso={iso(task.startedAt)} />],
          ]}
        />
      </div>
      <LogViewer url={`/c/${clusterId}/v2/tasks/${encodeURIComponent(taskId)}/logs`} />
    </>,
  );
});
