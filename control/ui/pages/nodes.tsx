import { Hono } from "hono";
import { removeAgent } from "../../operations/agents.ts";
import type { DiagnosticCheck } from "../../../protocol/index.ts";
import type { AgentRecord } from "../../cluster/agents.ts";
import type { NodeDiagnostics } from "../../cluster/diagnostics.ts";
import type { AgentUsage, TaskRecord } from "../../cluster/tasks.ts";
import { notFound } from "../../errors.ts";
import { DataTable, Empty, Facts, FilterForm, PageHeader, Pager, PostForm, StateBadge, Time, TypeToConfirm, Usage } from "../components.tsx";
import { checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { attributes, cpus, megabytes, portRanges } from "../format.ts";
import { renderPage } from "../layout.tsx";
import { byKeys, filterText, matchesFilter, pageOf, parsePaging, type Page } from "../paging.ts";
import { servicePath } from "./services.tsx";

const NO_USAGE: AgentUsage = { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [], tasks: 0 };
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const nodesPath = (c: UiContext) => `/ui/${c.get("cluster").id}/nodes`;
const nodePath = (c: UiContext, agentId: string) => `${nodesPath(c)}/${encodeURIComponent(agentId)}`;

/** Nodes in the order they registered, ties by id: the same order on every refresh, so pages do not shuffle. */
const nodeOrder = byKeys<AgentRecord>(
  (a) => a.registeredAt,
  (a) => a.id,
);
/** A node's tasks by state, then id. */
const taskOrder = byKeys<TaskRecord>(
  (t) => t.state,
  (t) => t.id,
);

/** DC/OS's node types: a public agent (role `slave_public`) runs what the internet may reach. */
function NodeType(props: { agent: AgentRecord }) {
  return props.agent.role === "*" ? (
    <span>Private</span>
  ) : (
    <span class="badge badge-busy" title="role slave_public">
      Public
    </span>
  );
}

function NodeRow(props: { clusterId: string; agent: AgentRecord; usage: AgentUsage }) {
  const { agent, usage } = props;
  return (
    <tr>
      <th scope="row">
        <a href={`/ui/${props.clusterId}/nodes/${encodeURIComponent(agent.id)}`}>{agent.hostname}</a>
        <div class="id hint">{agent.id}</div>
      </th>
      <td>
        <NodeType agent={agent} />
      </td>
      <td>
        <StateBadge state={agent.state} />
      </td>
      <td class="id">{agent.ip}</td>
      <td>
        <Usage used={usage.cpus} total={agent.resources.cpus} format={cpus} label="CPU" />
      </td>
      <td>
        <Usage used={usage.mem} total={agent.resources.mem} format={megabytes} label="Memory" />
      </td>
      <td>
        <Usage used={usage.disk} total={agent.resources.disk} format={megabytes} label="Disk" />
      </td>
      <td class="num">{String(usage.tasks)}</td>
      <td>{attributes(agent.attributes)}</td>
    </tr>
  );
}

function TaskRows(props: { clusterId: string; tasks: Page<TaskRecord>; url: URL; filtered: boolean }) {
  if (props.tasks.total === 0) return <Empty>{props.filtered ? "No task on this node matches the filter." : "No tasks on this node."}</Empty>;
  return (
    <>
      <DataTable label="Tasks on this node" headers={["Task", "Of", "State", "Ports", { text: "CPU", numeric: true }, { text: "Memory", numeric: true }]}>
        {props.tasks.items.map((t) => (
          <tr>
            <th scope="row" class="id">
              <a href={`/ui/${props.clusterId}/tasks/${encodeURIComponent(t.id)}`}>{t.id}</a>
            </th>
            <td>
              {t.framework === "marathon" ? (
                <a href={servicePath(props.clusterId, t.group)}>{t.group}</a>
              ) : (
                <a href={`/ui/${props.clusterId}/jobs/${t.group}`}>{t.group}</a>
              )}
            </td>
            <td>
              <StateBadge state={t.state} />
            </td>
            <td>{t.ports.join(", ") || "–"}</td>
            <td class="num">{cpus(t.resources.cpus)}</td>
            <td class="num">{megabytes(t.resources.mem)}</td>
          </tr>
        ))}
      </DataTable>
      <Pager page={props.tasks} url={props.url} label="Tasks on this node" />
    </>
  );
}

/**
 * Removing asks for the node's hostname typed, as destroying a service asks for its id, and says
 * what removal does to a running agent before it happens.
 */
function ConfirmRemove(props: { c: UiContext; agent: AgentRecord; tasks: number }) {
  const { c, agent } = props;
  return (
    <PostForm action={nodePath(c, agent.id)} csrf={c.get("csrf")} op="remove" class="panel" label="Confirm removing the node">
      <h2 id="confirm">{`Remove ${agent.hostname} from the cluster?`}</h2>
      <ul>
        <li>
          {
            "If its agent is connected, it is disconnected now, and its credential is revoked either way: the agent exits and cannot reconnect. To bring the machine back, delete "
          }
          <code>identity.json</code>
          {" in the agent's work dir and start the agent with a new join token."}
        </li>
        <li>
          {props.tasks === 0
            ? "It runs no tasks."
            : `Its ${props.tasks} ${props.tasks === 1 ? "task is" : "tasks are"} marked gone; services start replacements on other nodes.`}
        </li>
      </ul>
      <TypeToConfirm expected={agent.hostname} />
      <button type="submit" class="danger">
        Remove the node
      </button>{" "}
      <a href={nodePath(c, agent.id)}>Cancel</a>
    </PostForm>
  );
}

async function showNode(c: UiContext) {
  const agentId = c.req.param("agentId") ?? "";
  const [snap, diagnostics] = await Promise.all([clusterOf(c).snapshot({ agentId }), clusterOf(c).diagnostics()]);
  const agent = snap.agents.find((a) => a.id === agentId);
  if (!agent) throw notFound(`Node '${(c.req.param("agentId") ?? "").slice(0, 200)}' does not exist.`);
  const usage = snap.usage[agent.id] ?? NO_USAGE;
  // The snapshot lists this agent's live tasks only; one page of them is rendered.
  const tasks = snap.tasks;
  const q = filterText(c.req.query("q"));
  const shown = pageOf(
    tasks.filter((t) => matchesFilter(q, t.id, t.group)).sort(taskOrder),
    parsePaging((n) => c.req.query(n)),
  );
  const url = new URL(c.req.url);
  return renderPage(
    c,
    { title: agent.hostname, section: "nodes" },
    <>
      <PageHeader title={agent.hostname}>
        <a class="button danger" href={`${nodePath(c, agent.id)}?confirm=remove#confirm`}>
          Remove…
        </a>
      </PageHeader>
      {c.req.query("confirm") === "remove" ? <ConfirmRemove c={c} agent={agent} tasks={tasks.length} /> : null}
      <div id="node-live" data-live>
        <Facts
          items={[
            ["State", <StateBadge state={agent.state} />],
            ["Type", <NodeType agent={agent} />],
            ["Agent id", <span class="id">{agent.id}</span>],
            ["IP", agent.ip],
            ["Agent version", agent.version],
            ["CPU", <Usage used={usage.cpus} total={agent.resources.cpus} format={cpus} label="CPU" />],
            ["Memory", <Usage used={usage.mem} total={agent.resources.mem} format={megabytes} label="Memory" />],
            ["Disk", <Usage used={usage.disk} total={agent.resources.disk} format={megabytes} label="Disk" />],
            ["Ports", portRanges(agent.resources.ports)],
            ["Attributes", attributes(agent.attributes)],
            ["Registered", <Time iso={iso(agent.registeredAt)} />],
            ["Re-registered", <Time iso={iso(agent.reregisteredAt)} />],
            ["Disconnected", <Time iso={iso(agent.disconnectedAt)} />],
          ]}
        />
      </div>
      <h2>Health checks</h2>
      <div id="node-checks" data-live>
        <NodeChecks node={diagnostics.find((n) => n.agentId === agent.id)} />
      </div>
      <h2>Tasks</h2>
      {tasks.length > 0 ? <FilterForm url={url} label="Filter tasks by id or service" q={q} /> : null}
      <div id="node-tasks" data-live>
        <TaskRows clusterId={c.get("cluster").id} tasks={shown} url={url} filtered={q !== ""} />
      </div>
    </>,
  );
}

const CHECK_TONE: Record<DiagnosticCheck["status"], string> = { healthy: "good", unhealthy: "bad", disabled: "idle" };

/** A node's self-checks (diagnostics), as DC/OS's node health page lists its units. */
function NodeChecks(props: { node: NodeDiagnostics | undefined }) {
  const node = props.node;
  if (node === undefined || node.checks.length === 0) return <Empty>This agent has not reported its health checks yet.</Empty>;
  return (
    <DataTable label="Health checks" headers={["Check", "Status", "Details"]}>
      {node.checks.map((check) => (
        <tr>
          <td>{check.name}</td>
          <td>
            <span class={`badge badge-${CHECK_TONE[check.status]}`}>{check.status}</span>
          </td>
          <td>{check.message}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** Removes the node once its hostname was typed; a wrong name or an unknown node is said on the page, never a 500. */
async function removeNode(c: UiContext) {
  const agentId = c.req.param("agentId") ?? "";
  const agent = await clusterOf(c).agent(agentId);
  if (!agent)
    return redirectWithFlash(c, nodesPath(c), { kind: "error", text: `Node '${agentId.slice(0, 200)}' does not exist; it may have been removed already.` });
  const op = await formField(c, "op");
  if (op !== "remove") return redirectWithFlash(c, nodePath(c, agentId), { kind: "error", text: `Unknown action '${op.slice(0, 40)}'.` });
  if ((await formField(c, "confirm")).trim() !== agent.hostname) {
    return redirectWithFlash(c, `${nodePath(c, agentId)}?confirm=remove#confirm`, {
      kind: "error",
      text: `Not removed: type the hostname '${agent.hostname}' exactly to confirm.`,
    });
  }
  await removeAgent(c.env, c.get("db"), c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") }, agentId);
  return redirectWithFlash(c, nodesPath(c), { kind: "ok", text: `Removed ${agent.hostname} (${agentId}); its credential is revoked.` });
}

/** The Nodes table, one page of it; an empty filter result says so. */
function NodesTable(props: { clusterId: string; nodes: Page<AgentRecord>; snap: { usage: Record<string, AgentUsage> }; url: URL; filtered: boolean }) {
  const { clusterId, nodes, snap } = props;
  if (nodes.total === 0)
    return (
      <Empty>{props.filtered ? "No node matches the filter." : "No nodes yet. Create an agent token and start an agent with the command it shows."}</Empty>
    );
  return (
    <>
      <DataTable label="Nodes" headers={["Node", "Type", "State", "IP", "CPU", "Memory", "Disk", { text: "Tasks", numeric: true }, "Attributes"]}>
        {nodes.items.map((a) => (
          <NodeRow clusterId={clusterId} agent={a} usage={snap.usage[a.id] ?? NO_USAGE} />
        ))}
      </DataTable>
      <Pager page={nodes} url={props.url} label="Nodes" />
    </>
  );
}

/** `/ui/:cluster/nodes`: the agents, a page at a time, with their resources used and offered, attributes, state and tasks. */
export const nodePages = new Hono<UiEnv>()
  .get("/", async (c) => {
    // Every agent comes with its usage and task count; the page slices one page of them.
    const snap = await clusterOf(c).snapshot("none");
    const clusterId = c.get("cluster").id;
    const q = filterText(c.req.query("q"));
    const url = new URL(c.req.url);
    const matching = snap.agents.filter((a) => matchesFilter(q, a.hostname, a.id, a.ip)).sort(nodeOrder);
    const nodes = pageOf(
      matching,
      parsePaging((n) => c.req.query(n)),
    );
    return renderPage(
      c,
      { title: "Nodes", section: "nodes" },
      <>
        <PageHeader title="Nodes">
          <a class="button" href={`/ui/${clusterId}/tokens`}>
            Add a node
          </a>
        </PageHeader>
        {snap.agents.length > 0 ? <FilterForm url={url} label="Filter nodes by hostname, id or IP" q={q} /> : null}
        <div id="nodes-live" data-live>
          <NodesTable clusterId={clusterId} nodes={nodes} snap={snap} url={url} filtered={q !== ""} />
        </div>
      </>,
    );
  })
  .get("/:agentId", showNode)
  .post("/:agentId", checkForm, removeNode);
