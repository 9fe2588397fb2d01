import { type Context, Hono, type Next } from "hono";
import { eq } from "drizzle-orm";
import { clusters } from "../../accounts/schema.ts";
import { PROXY_CALL_HEADER } from "../../cluster/service-proxy/upgrade.ts";
import { ApiError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { clusterStub } from "../../cluster-stub.ts";
import { DCOS_PATHS } from "../dcos-paths.ts";
import { checkSizes, clientHeaders, proxyCall, proxySegments } from "./request.ts";

/**
 * The service proxy's routes: `/c/:cluster/service/<name>/…` for the cluster's members
 * (authenticated as the rest of the API, by the member check the cluster's routes run first),
 * and `/public/<cluster>/<name>/…` for anyone, serving only apps labelled DCX_PUBLIC_INGRESS.
 * Both reach the task through its agent's socket (control/cluster/service-proxy/).
 */

/** The built-in services Admin Router names before any app (`/service/marathon`, `/service/metronome`), served by their own routes. */
const BUILT_IN = new Set(Object.entries(DCOS_PATHS).flatMap(([name, path]) => (path.startsWith("/service/") ? [name] : [])));
/** The methods the OpenAPI document lists; any other (HEAD, OPTIONS) is proxied by the same handler. */
const DOCUMENTED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/**
 * What a proxied web page may do. A page under `/service/` shares DCX's origin, as under Admin
 * Router, so it may only be framed by that origin; a public page is sandboxed into an opaque
 * origin as well, since anyone's app answers there and its scripts must not reach a visitor's
 * DCX session (see README, "Reaching services").
 */
const MEMBER_CSP = "frame-ancestors 'self'";
const PUBLIC_CSP = "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads; frame-ancestors 'none'";

/** Admin Router's 301 from `/service/<id>` to `/service/<id>/`, for an id of letters, digits, `-` and `.`. */
function slashRedirect(c: Context<AppEnv>, segments: string[]): Response | undefined {
  if (segments.length !== 1 || !/^[0-9a-zA-Z.-]+$/.test(segments[0] ?? "")) return undefined;
  const url = new URL(c.req.url);
  return c.redirect(`${url.pathname}/${url.search}`, 301);
}

/** Sends the request through the Cluster object and answers with the task's answer. */
async function forward(c: Context<AppEnv>, clusterId: string, prefix: string, segments: string[], publicOnly: boolean): Promise<Response> {
  checkSizes(c);
  const call = { ...proxyCall(c, prefix, segments, publicOnly, !publicOnly), redirectBare: publicOnly };
  const stub = clusterStub(c.env, clusterId);
  if (call.websocket) {
    return stub.fetch(new Request("https://cluster/service-proxy", { headers: { Upgrade: "websocket", [PROXY_CALL_HEADER]: JSON.stringify(call) } }));
  }
  const body = c.req.method === "GET" || c.req.method === "HEAD" ? null : c.req.raw.body;
  const answer = await stub.serviceRequest(call, body);
  if (!answer.ok) throw new ApiError(answer.code, answer.message);
  // The task's bytes go out as they are. Cloudflare's edge (and wrangler dev, which imitates it)
  // compresses text types for clients that accept gzip, buffering a stream (a drip of output, a
  // long poll) until it has enough to compress; `identity` tells it the body is to go as is.
  const headers = clientHeaders(answer.headers, publicOnly ? PUBLIC_CSP : MEMBER_CSP);
  if (!headers.has("Content-Encoding")) headers.set("Content-Encoding", "identity");
  return new Response(answer.body, { status: answer.status, headers, encodeBody: "manual" });
}

/** `/c/:cluster/service/*`, after the member check; the built-in services' paths pass on to their routes. */
async function memberProxy(c: Context<AppEnv>, next: Next): Promise<Response | undefined> {
  const pathname = new URL(c.req.url).pathname;
  const prefix = pathname.split("/").slice(0, 4).join("/");
  const segments = proxySegments(pathname, prefix);
  if (BUILT_IN.has(segments[0] ?? "")) {
    await next();
    return undefined;
  }
  if (segments[0] === "") throw new ApiError("not_found", "Name a service: /service/<name>/.");
  return slashRedirect(c, segments) ?? forward(c, c.get("cluster").id, prefix, segments, false);
}

/** `/public/:cluster/*`: no DCX credential; the cluster must exist and the app must have asked for it. */
async function publicIngress(c: Context<AppEnv>): Promise<Response> {
  const pathname = new URL(c.req.url).pathname;
  const prefix = pathname.split("/").slice(0, 3).join("/");
  const clusterId = c.req.param("cluster") ?? "";
  const segments = proxySegments(pathname, prefix);
  if (segments[0] === "") throw new ApiError("not_found", "Name a service: /public/<cluster>/<name>/.");
  // An unknown cluster must not wake (and create) a Durable Object for whoever asks.
  const known = await c.get("db").select({ id: clusters.id }).from(clusters).where(eq(clusters.id, clusterId)).get();
  if (!known) throw new ApiError("not_found", `No service named '${(segments[0] ?? "").slice(0, 100)}' is open to public ingress here.`);
  const { success } = await c.env.PUBLIC_INGRESS_LIMITER.limit({ key: `${clusterId}:${segments[0]}` });
  if (!success)
    throw new ApiError(
      "rate_limited",
      `Too many requests to the public service '${(segments[0] ?? "").slice(0, 100)}' (limit PUBLIC_INGRESS_LIMITER); try again in 60 s.`,
      [],
      { "Retry-After": "60" },
    );
  return forward(c, clusterId, prefix, segments, true);
}

/** Mounted at `/c/:cluster/service`, after the cluster's routes (whose member check runs first). */
export const serviceProxyRoutes = new Hono<AppEnv>().on(DOCUMENTED_METHODS, "/*", memberProxy).all("/*", memberProxy);

/** Mounted at `/public/:cluster`. */
export const publicIngressRoutes = new Hono<AppEnv>().on(DOCUMENTED_METHODS, "/*", publicIngress).all("/*", publicIngress);

/** Whether a path is the proxy's: its bodies stream to the task, so the API's body limit does not apply. */
export function isProxiedPath(pathname: string): boolean {
  const parts = pathname.split("/");
  if (parts[1] === "public") return true;
  return parts[1] === "c" && parts[3] === "service" && !BUILT_IN.has(parts[4] ?? "");
}
