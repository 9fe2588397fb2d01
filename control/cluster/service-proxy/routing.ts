import { listAgents } from "../agents.ts";
import type { ClusterDb } from "../db.ts";
import { activeFrameworks } from "../frameworks/external/store.ts";
import { appsForServiceNames, type StoredApp } from "../frameworks/marathon/apps.ts";
import { MARATHON } from "../frameworks/marathon/demand.ts";
import { liveTasks, type TaskRecord } from "../tasks.ts";

/**
 * Which service `/service/<name>/…` names, by Admin Router's rules (lib/service.lua): for the
 * candidate ids `a`, `a/b`, `a/b/c`… of the path (at most RESOLVE_LIMIT segments), the first
 * that matches wins, trying in order (1) a Marathon app whose `DCOS_SERVICE_NAME` label is the
 * id, (2) a Mesos framework whose id or name is the id, with its `webui_url`, (3) the Marathon
 * app whose id is the id (Admin Router asks Mesos-DNS's SRV record of that app, i.e. its first
 * port). Unlike Admin Router, which keeps a cache refreshed every 25 s, this reads the live
 * tables, so a new app is reachable the moment its task runs.
 */

/** Admin Router's RESOLVE_LIMIT: at most this many path segments name a service. */
export const RESOLVE_LIMIT = 10;
/** The label that opts an app into public ingress (`/public/<cluster>/<name>/…`). */
export const PUBLIC_INGRESS_LABEL = "DCX_PUBLIC_INGRESS";

/** One task the proxy may send a request to: the port is the one the service is on. */
export interface Backend {
  taskId: string;
  agentId: string;
  port: number;
}

/** A resolved service. */
export interface ServiceTarget {
  /** The candidate id that matched: what `/service/` is followed by (Admin Router's realpath). */
  name: string;
  /** `app:/id` or `framework:<id>`: the key round robin counts by. */
  key: string;
  scheme: "http" | "https";
  /** Whether the `/service/<name>` prefix is removed (DCOS_SERVICE_REWRITE_REQUEST_URLS); frameworks always are. */
  rewrite: boolean;
  /** A path the framework's `webui_url` puts before the request's own. */
  basePath: string;
  /** RUNNING (and, with health checks, healthy) tasks, possibly none. */
  backends: Backend[];
  /** Why there are no backends, when there are none. */
  empty: string;
}

export type ServiceLookup = { ok: true; target: ServiceTarget } | { ok: false; code: "not_found" | "bad_gateway"; message: string };

const trimSlashes = (s: string) => s.replace(/^\/+|\/+$/g, "");

/** Resolves the service a path's segments name; `publicOnly` considers only apps labelled for public ingress. */
export function resolveService(db: ClusterDb, segments: readonly string[], publicOnly: boolean): ServiceLookup {
  const candidates = segments.slice(0, RESOLVE_LIMIT).map((_, n) => segments.slice(0, n + 1).join("/"));
  const apps = appsForServiceNames(
    db,
    candidates,
    candidates.map((c) => `/${c}`),
  ).filter((a) => !publicOnly || isPublic(a));
  const frameworks = publicOnly ? [] : activeFrameworks(db);
  for (const id of candidates) {
    const labelled = apps.find((a) => a.app.labels.DCOS_SERVICE_NAME !== undefined && trimSlashes(a.app.labels.DCOS_SERVICE_NAME) === id);
    if (labelled) return appTarget(db, labelled, id, true);
    const framework = frameworks.find((f) => f.id === id || f.info.name === id);
    if (framework) return frameworkTarget(db, framework.id, framework.info.webui_url, id);
    const byId = apps.find((a) => a.id === `/${id}`);
    if (byId) return appTarget(db, byId, id, false);
  }
  return {
    ok: false,
    code: "not_found",
    message: `No service named '${segments
      .slice(0, RESOLVE_LIMIT)
      .filter((x) => x !== "")
      .join(
        "/",
      )}' (nor any prefix of it)${publicOnly ? " is open to public ingress" : ""}: name a Marathon app by its DCOS_SERVICE_NAME label or its id, or a framework by its name.`,
  };
}

/** Whether the app asked for public ingress (`DCX_PUBLIC_INGRESS: "true"`). */
export function isPublic(app: StoredApp): boolean {
  return app.app.labels[PUBLIC_INGRESS_LABEL]?.toLowerCase() === "true";
}

/**
 * A Marathon app's target: its labels choose the port and scheme (only apps named by label
 * read them; an app found by id is served on its first port over http, as Mesos-DNS's SRV
 * record would give it). Tasks being killed, not RUNNING, or failing a health check are left out.
 */
function appTarget(db: ClusterDb, stored: StoredApp, name: string, byLabel: boolean): ServiceLookup {
  const labels = stored.app.labels;
  const index = byLabel ? Number(labels.DCOS_SERVICE_PORT_INDEX ?? "0") : 0;
  if (!Number.isInteger(index) || index < 0)
    return {
      ok: false,
      code: "bad_gateway",
      message: `App '${stored.id}' has DCOS_SERVICE_PORT_INDEX '${String(labels.DCOS_SERVICE_PORT_INDEX).slice(0, 20)}', which is not a port index (0, 1, …).`,
    };
  const scheme = byLabel && labels.DCOS_SERVICE_SCHEME?.toLowerCase() === "https" ? "https" : "http";
  const rewrite = !byLabel || labels.DCOS_SERVICE_REWRITE_REQUEST_URLS?.toLowerCase() !== "false";
  const checked = stored.app.healthChecks.length > 0;
  const live = liveTasks(db, { framework: MARATHON, group: stored.id });
  const backends = live
    .filter((t) => serving(t, checked) && t.ports[index] !== undefined)
    .map((t) => ({ taskId: t.id, agentId: t.agentId, port: t.ports[index] as number }));
  let empty = "";
  if (backends.length === 0) {
    const running = live.filter((t) => t.state === "TASK_RUNNING").length;
    empty =
      running === 0
        ? `App '${stored.id}' has no RUNNING task.`
        : `App '${stored.id}' has ${running} RUNNING task(s), none ${checked ? "healthy" : `with a port at index ${index}`}.`;
  }
  return { ok: true, target: { name, key: `app:${stored.id}`, scheme, rewrite, basePath: "", backends, empty } };
}

/** A task the proxy may use: RUNNING, not being killed, and healthy when the app has checks. */
function serving(t: TaskRecord, checked: boolean): boolean {
  return t.state === "TASK_RUNNING" && t.killRequestedAt === null && (!checked || t.healthy === true);
}

/**
 * A framework's web UI. Its `webui_url` names a host and port; the proxy only ever dials a
 * port of a task an agent runs, so the URL must point at a live task's port on its agent
 * (a scheduler run as a Marathon app, the usual DC/OS setup). Admin Router stops at a
 * framework without `webui_url`; so does this.
 */
function frameworkTarget(db: ClusterDb, id: string, webuiUrl: string | undefined, name: string): ServiceLookup {
  let url: URL;
  try {
    url = new URL(webuiUrl ?? "");
  } catch {
    return { ok: false, code: "bad_gateway", message: `Framework '${id}' has no usable webui_url${webuiUrl ? ` ('${webuiUrl.slice(0, 200)}')` : ""}.` };
  }
  const scheme = url.protocol === "https:" ? "https" : "http";
  const port = Number(url.port || (scheme === "https" ? 443 : 80));
  const ips = new Map(listAgents(db).map((a) => [a.id, a.ip]));
  const backends = liveTasks(db)
    .filter((t) => serving(t, false) && t.ports.includes(port) && (t.host === url.hostname || ips.get(t.agentId) === url.hostname))
    .map((t) => ({ taskId: t.id, agentId: t.agentId, port }));
  const empty = backends.length === 0 ? `Framework '${id}' has its web UI at ${url.host}, which is not a port of a RUNNING task of this cluster.` : "";
  return { ok: true, target: { name, key: `framework:${id}`, scheme, rewrite: true, basePath: trimSlashes(url.pathname), backends, empty } };
}
