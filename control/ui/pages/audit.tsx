import { Hono } from "hono";
import { type AuditEntry, clusterAuditPage, parseCursor } from "../../operations/audit.ts";
import { DataTable, Empty, PageHeader, Time } from "../components.tsx";
import { clusterBase, type UiContext, type UiEnv } from "../context.ts";
import { renderPage } from "../layout.tsx";

/** Entries per page of the audit log. */
const PAGE = 50;

/** What changed, in a line: the detail's fields, as `key=value`. */
function detailText(e: AuditEntry): string {
  if (!e.detail) return "";
  return Object.entries(e.detail)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ")
    .slice(0, 200);
}

function actorText(c: UiContext, e: AuditEntry): string {
  if (e.actor.userId === c.get("user").id) return "you";
  return e.actor.userId ?? "–";
}

function AuditTable(props: { c: UiContext; entries: AuditEntry[] }) {
  if (props.entries.length === 0) return <Empty>No changes recorded yet.</Empty>;
  return (
    <DataTable label="Audit log" headers={["When", "Who", "Action", "Target", "Detail"]}>
      {props.entries.map((e) => (
        <tr>
          <td>
            <Time iso={e.at} />
          </td>
          <td>{actorText(props.c, e)}</td>
          <th scope="row">{e.action}</th>
          <td class="id">{e.target ?? "–"}</td>
          <td>{detailText(e)}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** `/ui/:cluster/audit`: who changed what in the cluster, newest first, a page at a time (`?before=` the last page's cursor). */
export const auditPage = new Hono<UiEnv>().get("/", async (c) => {
  const before = c.req.query("before");
  const after = before === undefined ? undefined : parseCursor(before);
  const page = await clusterAuditPage(c.env, c.get("db"), c.get("cluster").id, PAGE, after);
  return renderPage(
    c,
    { title: "Audit log", section: "audit" },
    <>
      <PageHeader title="Audit log" />
      <p>Every change to this cluster (apps, groups, jobs, agents, tokens, settings), written with the change itself, newest first.</p>
      {before !== undefined && !after ? <p class="form-error">That page link is not valid; showing the newest entries.</p> : null}
      <AuditTable c={c} entries={page.entries} />
      <nav class="pager" aria-label="Audit log pages">
        {before !== undefined ? <a href={`${clusterBase(c)}/audit`}>Newest</a> : null}
        {page.next ? (
          <a rel="next" href={`${clusterBase(c)}/audit?before=${encodeURIComponent(page.next)}`}>
            Older
          </a>
        ) : null}
      </nav>
    </>,
  );
});
