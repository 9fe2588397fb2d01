import type { OperationDoc, RouteSection } from "./types.ts";

/** The service proxy (Admin Router's `/service/<name>/`) and public ingress: every method goes through to the task. */

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

const PROXY_RESPONSES = {
  200: {
    description: "The task's answer, streamed as it sends it (any status, headers and body; SSE and WebSocket upgrades pass through).",
    contentType: "*/*",
  },
  301: "`/service/<name>` without the slash: moved to `/service/<name>/`, as Admin Router does.",
  400: "A path segment that encodes a slash, a backslash or NUL, or is a dot segment.",
  404: "No service of that name (nor any prefix of the path).",
  414: "A path and query over 16 KB.",
  431: "Request headers over 32 KB.",
  502: "The agent refused the task's port, nothing listens on it, or the task's answer is not HTTP.",
  503: "No RUNNING (and healthy) task, or none on a connected agent, or too many proxied requests open.",
  504: "The task said nothing within SERVICE_PROXY_TIMEOUT_MS.",
} as const;

function proxyDoc(path: string, summary: string, description: string, extra: Record<string, string> = {}): OperationDoc {
  return { path, summary, description, responses: { ...PROXY_RESPONSES, ...extra } };
}

const member = proxyDoc(
  "/c/{cluster}/service/{serviceName}/{path}",
  "A service's web interface or API, through its task's agent",
  "Resolved as Admin Router resolves it: a Marathon app whose `DCOS_SERVICE_NAME` label is the name (port `DCOS_SERVICE_PORT_INDEX`, scheme `DCOS_SERVICE_SCHEME`), a framework by name or id (its `webui_url`, which must be a port of a running task), then the app whose id is the name; the name may span segments (`/service/shop/web/`). The `/service/<name>` prefix is removed unless the app sets `DCOS_SERVICE_REWRITE_REQUEST_URLS: false`; redirects to the task's root are rewritten under it. Requests are spread round robin over RUNNING, healthy tasks. `/service/marathon` and `/service/metronome` are the built-in services.",
);
const open = proxyDoc(
  "/public/{cluster}/{serviceName}/{path}",
  "A service open to the internet (public ingress), without a DCX token",
  'Only Marathon apps labelled `DCX_PUBLIC_INGRESS: "true"` answer here (any other name is a 404); the app does its own auth (its `Authorization` header reaches it). Pages are sandboxed into an opaque origin. Requests per app are bounded by PUBLIC_INGRESS_LIMITER.',
  { 429: "The app's public request rate is spent (`Retry-After`)." },
);

export const serviceProxySection: RouteSection = {
  tag: "Services",
  description: "Reaching services: Admin Router's `/service/<name>/` proxy, tunnelled over the task's agent's own socket, and public ingress.",
  routes: Object.fromEntries(
    METHODS.flatMap((m) => [[`${m} /c/:cluster/service/*`, member] as const, [`${m} /public/:cluster/*`, { ...open, auth: "none" as const }] as const]),
  ),
};
