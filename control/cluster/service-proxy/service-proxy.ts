import type { HeaderList } from "../../../protocol/index.ts";
import type { ClusterDb } from "../db.ts";
import type { AgentLink, AgentLinks } from "../sessions.ts";
import { type Backend, resolveService, type ServiceTarget } from "./routing.ts";
import type { ProxyAnswer, ProxyTunnel } from "./tunnel.ts";

/**
 * The service proxy's decisions inside the Cluster object: which service a path names
 * (routing.ts), which of its tasks answers (round robin over tasks whose agent is connected),
 * what path the task sees, and how its redirects are rewritten for the client.
 */

/** A proxied request as the Worker hands it over (RPC): already authenticated and checked. */
export interface ProxyCall {
  /** The path's segments after the prefix, still percent-encoded; a trailing slash leaves a last empty one. */
  segments: string[];
  /** The query, with its `?`, or "". */
  search: string;
  /** The client's path up to the segments: `/c/<cluster>/service` or `/public/<cluster>`. */
  prefix: string;
  /** Public ingress: only apps labelled DCX_PUBLIC_INGRESS are served. */
  publicOnly: boolean;
  method: string;
  /** The headers to send on, already cleaned of credentials and hop-by-hop headers by the Worker. */
  headers: HeaderList;
  websocket: boolean;
  /**
   * Answer a path that is only a service's name with Admin Router's 301 to `<name>/`, once the
   * service is known (public ingress: an unknown or unlabelled name must look like nothing).
   */
  redirectBare?: boolean;
  /** The client's Host, for rewriting absolute redirects. */
  host: string;
}

/** Where a call goes: the task, the request for its agent, and the service it belongs to. */
interface Route {
  ws: AgentLink;
  backend: Backend;
  target: ServiceTarget;
  path: string;
}

export class ServiceProxy {
  /** Requests sent per service, for round robin; lost on eviction, which only moves the start. */
  private readonly turns = new Map<string, number>();

  constructor(
    private readonly db: ClusterDb,
    private readonly sockets: AgentLinks,
    private readonly tunnel: ProxyTunnel,
  ) {}

  /** Sends an HTTP request (or opens a WebSocket to the task, for `call.websocket`) and answers with the task's head. */
  async request(call: ProxyCall, body: ReadableStream<Uint8Array> | null): Promise<ProxyAnswer> {
    const route = this.route(call);
    if (!route.ok) {
      await body?.cancel().catch(() => {});
      return route;
    }
    const { ws, backend, target, path } = route.value;
    if (call.redirectBare && call.segments.length === 1) {
      await body?.cancel().catch(() => {});
      return { ok: true, sid: 0, status: 301, headers: [["location", `${call.prefix}/${call.segments[0]}/${call.search}`]], body: null };
    }
    const answer = await this.tunnel.open(
      ws,
      { taskId: backend.taskId, port: backend.port, scheme: target.scheme, method: call.method, path, headers: call.headers, websocket: call.websocket },
      body,
    );
    if (!answer.ok) return answer;
    const headers = answer.headers.map(([name, value]): [string, string] => [
      name,
      name.toLowerCase() === "location" ? rewriteLocation(value, call, target) : value,
    ]);
    return { ...answer, headers };
  }

  /** The service, a task of it on a connected agent, and the path that task sees. */
  private route(call: ProxyCall): { ok: true; value: Route } | { ok: false; code: "not_found" | "bad_gateway" | "unavailable"; message: string } {
    const found = resolveService(this.db, call.segments.map(decodeSegment), call.publicOnly);
    if (!found.ok) return found;
    const target = found.target;
    if (target.backends.length === 0) return { ok: false, code: "unavailable", message: `Service '${target.name}' has no task to answer: ${target.empty}` };
    const connected = target.backends.flatMap((b) => {
      const ws = this.sockets.get(b.agentId);
      return ws === undefined ? [] : [{ backend: b, ws }];
    });
    if (connected.length === 0)
      return { ok: false, code: "unavailable", message: `Service '${target.name}' has ${target.backends.length} task(s), but none on a connected agent.` };
    const turn = this.turns.get(target.key) ?? 0;
    this.turns.set(target.key, turn + 1);
    const pick = connected[turn % connected.length] as { backend: Backend; ws: AgentLink };
    return { ok: true, value: { ...pick, target, path: upstreamPath(call, target) } };
  }
}

/** A segment as it names a service (`%2D` is `-`); undecodable stays as it is, and matches nothing. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The path the task sees: with the `/service/<name>` prefix removed (Admin Router's default; an
 * empty rest is `/`), under a framework's webui_url path, or the client's whole path when the
 * app asked for it (DCOS_SERVICE_REWRITE_REQUEST_URLS=false, for apps with a context path).
 */
export function upstreamPath(call: Pick<ProxyCall, "segments" | "search" | "prefix">, target: Pick<ServiceTarget, "name" | "rewrite" | "basePath">): string {
  if (!target.rewrite) return `${call.prefix}/${call.segments.join("/")}${call.search}`;
  const depth = target.name.split("/").length;
  const rest = call.segments.slice(depth).join("/");
  const base = target.basePath === "" ? "" : `/${target.basePath}`;
  return `${base}/${rest}${call.search}`;
}

/**
 * A redirect as the client must follow it (nginx's `proxy_redirect`, as Admin Router sets it):
 * a `Location` at the task's root (`/x`, or an absolute URL on the client's own host or on
 * loopback) moves under `<prefix>/<name>/`; one already under it, one elsewhere, and every
 * redirect of an app that sees its whole path, stay as they are.
 */
export function rewriteLocation(location: string, call: Pick<ProxyCall, "prefix" | "host">, target: Pick<ServiceTarget, "name" | "rewrite">): string {
  if (!target.rewrite) return location;
  const base = `${call.prefix}/${target.name}/`;
  let path: string | undefined;
  if (location.startsWith("/") && !location.startsWith("//")) path = location;
  else {
    try {
      const url = new URL(location);
      if (url.host === call.host || ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) path = url.pathname + url.search + url.hash;
    } catch {
      return location;
    }
  }
  if (path === undefined) return location;
  return path.startsWith(base) ? path : base + path.slice(1);
}
