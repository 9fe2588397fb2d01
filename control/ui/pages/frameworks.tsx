import { Hono } from "hono";
import type { ClusterSnapshot } from "../../cluster/cluster.ts";
import { frameworkRoles, type FrameworkView } from "../../cluster/frameworks/external/store.ts";
import { DataTable, Empty, PageHeader, PostForm, StateBadge, TypeToConfirm } from "../components.tsx";
import { actingOf, checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { cpus, megabytes } from "../format.ts";
import { renderPage } from "../layout.tsx";

/**
 * `/ui/:cluster/frameworks`: every framework of the cluster, the built-in Marathon and
 * Metronome and those on the scheduler API: principal, roles, connected or not, tasks, what
 * they hold and have on offer; an external one can be torn down after typing its name.
 */

const frameworksPath = (c: UiContext) => `/ui/${c.get("cluster").id}/frameworks`;

interface Row {
  id: string;
  name: string;
  principal: string;
  roles: string[];
  state: string;
  tasks: number;
  cpus: number;
  mem: number;
  offers: number;
  external: boolean;
}

function rows(s: ClusterSnapshot): Row[] {
  const held = (name: string) => s.tasks.filter((t) => t.framework === name);
  const sum = (name: string, key: "cpus" | "mem") => held(name).reduce((n, t) => n + t.resources[key], 0);
  const builtIn = ["marathon", "metronome"].map((name) => ({
    id: name,
    name,
    principal: "built in",
    roles: ["*"],
    state: "connected",
    tasks: held(name).length,
    cpus: sum(name, "cpus"),
    mem: sum(name, "mem"),
    offers: 0,
    external: false,
  }));
  const external = s.frameworks
    .filter((f) => f.state !== "removed")
    .map((f: FrameworkView) => ({
      id: f.id,
      name: f.info.name,
      principal: f.principal,
      roles: frameworkRoles(f.info),
      state: f.state,
      tasks: held(f.id).length,
      cpus: sum(f.id, "cpus"),
      mem: sum(f.id, "mem"),
      offers: f.offers.length,
      external: true,
    }));
  return [...builtIn, ...external];
}

function ConfirmTeardown(props: { c: UiContext; row: Row }) {
  const { c, row } = props;
  return (
    <PostForm action={frameworksPath(c)} csrf={c.get("csrf")} op="teardown" class="panel" label="Confirm tearing the framework down">
      <h2 id="confirm">{`Tear down ${row.name}?`}</h2>
      <ul>
        <li>{row.tasks === 0 ? "It runs no tasks." : `Its ${row.tasks} ${row.tasks === 1 ? "task is" : "tasks are"} killed.`}</li>
        <li>Its subscription ends, its offers return, and it cannot subscribe again with this id.</li>
      </ul>
      <input type="hidden" name="id" value={row.id} />
      <TypeToConfirm expected={row.name} />
      <button type="submit" class="danger">
        Tear down
      </button>{" "}
      <a href={frameworksPath(c)}>Cancel</a>
    </PostForm>
  );
}

function FrameworksTable(props: { c: UiContext; rows: Row[] }) {
  if (props.rows.length === 0) return <Empty>No frameworks.</Empty>;
  return (
    <DataTable
      label="Frameworks"
      headers={[
        "Framework",
        "Principal",
        "Roles",
        "State",
        { text: "Tasks", numeric: true },
        { text: "CPU", numeric: true },
        { text: "Memory", numeric: true },
        { text: "Offers", numeric: true },
        "",
      ]}
    >
      {props.rows.map((r) => (
        <tr>
          <th scope="row">
            {r.name}
            <div class="id hint">{r.id}</div>
          </th>
          <td>{r.principal}</td>
          <td>{r.roles.join(", ")}</td>
          <td>
            <StateBadge state={r.state} />
          </td>
          <td class="num">{String(r.tasks)}</td>
          <td class="num">{cpus(r.cpus)}</td>
          <td class="num">{megabytes(r.mem)}</td>
          <td class="num">{String(r.offers)}</td>
          <td>{r.external ? <a href={`${frameworksPath(props.c)}?teardown=${encodeURIComponent(r.id)}#confirm`}>Tear down…</a> : null}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** Tears down once the framework's name was typed; a wrong name or an unknown framework is said on the page. */
async function teardown(c: UiContext) {
  const id = await formField(c, "id");
  const snap = await clusterOf(c).snapshot("none");
  const row = rows(snap).find((r) => r.id === id && r.external);
  if (!row)
    return redirectWithFlash(c, frameworksPath(c), { kind: "error", text: `Framework '${id.slice(0, 200)}' is not registered; it may be gone already.` });
  if ((await formField(c, "confirm")).trim() !== row.name) {
    return redirectWithFlash(c, `${frameworksPath(c)}?teardown=${encodeURIComponent(id)}#confirm`, {
      kind: "error",
      text: `Not torn down: type the name '${row.name}' exactly to confirm.`,
    });
  }
  const r = await actingOf(c).teardownFramework(id);
  if (!r.ok) return redirectWithFlash(c, frameworksPath(c), { kind: "error", text: "message" in r ? String(r.message) : "Not torn down." });
  return redirectWithFlash(c, frameworksPath(c), { kind: "ok", text: `Tore down ${row.name} (${id}); its tasks are being killed.` });
}

export const frameworksPage = new Hono<UiEnv>()
  .get("/", async (c) => {
    const snap = await clusterOf(c).snapshot("all");
    const all = rows(snap);
    const pending = all.find((r) => r.external && r.id === c.req.query("teardown"));
    return renderPage(
      c,
      { title: "Frameworks", section: "frameworks" },
      <>
        <PageHeader title="Frameworks" />
        <p class="hint">{`Mesos schedulers subscribe at /c/${c.get("cluster").id}/api/v1/scheduler with a service account (dcx service-account create NAME).`}</p>
        {pending ? <ConfirmTeardown c={c} row={pending} /> : null}
        <div id="frameworks-live" data-live>
          <FrameworksTable c={c} rows={all} />
        </div>
      </>,
    );
  })
  .post("/", checkForm, teardown);
