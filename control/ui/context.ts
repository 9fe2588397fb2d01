import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { clusterForMember, listClusters } from "../accounts/clusters.ts";
import { userForToken, type ClusterSummary } from "../accounts/users.ts";
import { actingStub, clusterStub } from "../cluster-stub.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { CSRF_FIELD, crossOriginReason, csrfToken, csrfValid, sessionToken } from "../http/session.ts";

/** A one-shot message shown on the next page, after a form's redirect. */
export interface Flash {
  kind: "ok" | "error";
  text: string;
}

/** What UI routes see: the API's variables plus what the pages need. */
export interface UiEnv {
  Bindings: Env;
  Variables: AppEnv["Variables"] & {
    /** The session's CSRF token, put into every form. */
    csrf: string;
    /** The user's clusters, for the cluster switcher. */
    clusters: ClusterSummary[];
    flash: Flash | undefined;
  };
}

export type UiContext = Context<UiEnv>;

const FLASH_COOKIE = "dcx_flash";

/** Only a local path may be a redirect target (no `//host`, no scheme): no open redirects. */
export function localPath(next: string | undefined, fallback = "/"): string {
  return next && /^\/(?![/\\])[^\s]*$/.test(next) ? next : fallback;
}

/**
 * Pages need a signed-in user: without a valid session the browser goes to the login page,
 * which sends it back here afterwards.
 */
export const requireSession = createMiddleware<UiEnv>(async (c, next) => {
  const token = sessionToken(c);
  const user = token ? await userForToken(c.get("db"), token) : undefined;
  if (!token || !user) {
    const url = new URL(c.req.url);
    const back = c.req.method === "GET" ? url.pathname + url.search : "/";
    return c.redirect(`/login?next=${encodeURIComponent(back)}`, 303);
  }
  c.set("user", { id: user.id, email: user.email });
  c.set("tokenHash", user.tokenHash);
  c.set("tokenId", user.tokenId);
  c.set("csrf", await csrfToken(token));
  c.set("clusters", await listClusters(c.get("db"), user.id));
  await next();
});

/** Cluster pages: the user must be a member of `:cluster` (another account's cluster is a 404). */
export const requireClusterPage = createMiddleware<UiEnv>(async (c, next) => {
  c.set("cluster", await clusterForMember(c.get("db"), c.get("user").id, c.req.param("cluster") ?? ""));
  await next();
});

/**
 * Login and signup forms act outside any session (a stale cookie may still be there): they
 * must come from a page of this origin, which is what stops a forged login.
 */
export const checkOrigin = createMiddleware<UiEnv>(async (c, next) => {
  const foreign = crossOriginReason(c);
  if (foreign) throw new ApiError("forbidden", `Form refused: ${foreign}.`);
  await next();
});

/** A form acting within the session: from this origin, and carrying the session's CSRF token. */
export const checkForm = createMiddleware<UiEnv>(async (c, next) => {
  const foreign = crossOriginReason(c);
  if (foreign) throw new ApiError("forbidden", `Form refused: ${foreign}.`);
  const token = sessionToken(c);
  if (!token || !(await csrfValid(token, await formField(c, CSRF_FIELD)))) {
    throw new ApiError("forbidden", "Form refused: it does not carry this session's CSRF token. Reload the page and try again.");
  }
  await next();
});

/** A text field of the posted form ("" when absent); Hono caches the parsed body. */
export async function formField(c: Context, name: string): Promise<string> {
  const body = await c.req.parseBody();
  const value = body[name];
  return typeof value === "string" ? value : "";
}

/** Remembers a message for the next page (Hono URI-encodes the cookie) and redirects there (303: the next request is a GET). */
export function redirectWithFlash(c: UiContext, to: string, flash: Flash): Response {
  setCookie(c, FLASH_COOKIE, JSON.stringify(flash), { httpOnly: true, sameSite: "Lax", path: "/", maxAge: 60 });
  return c.redirect(to, 303);
}

/** Shows the message a redirect left, once. */
export const readFlash = createMiddleware<UiEnv>(async (c, next) => {
  c.set("flash", takeFlash(c));
  await next();
});

function takeFlash(c: UiContext): Flash | undefined {
  // Only a navigation takes the message: a live page refetches itself in the background
  // (client/live.ts) when an event arrives, and such a fetch, sent while the browser follows a
  // form's redirect, would take the message the next page was to show. Browsers say which is
  // which in Fetch Metadata; a client without it (curl, tests) reads the message as before.
  const mode = c.req.header("Sec-Fetch-Mode");
  if (mode !== undefined && mode !== "navigate") return undefined;
  const raw = getCookie(c, FLASH_COOKIE);
  if (raw === undefined) return undefined;
  deleteCookie(c, FLASH_COOKIE, { path: "/", httpOnly: true, sameSite: "Lax" });
  try {
    const value = JSON.parse(raw) as Partial<Flash>;
    if ((value.kind === "ok" || value.kind === "error") && typeof value.text === "string") return { kind: value.kind, text: value.text.slice(0, 2000) };
  } catch {
    // A mangled cookie shows nothing.
  }
  return undefined;
}

/** The Clusters page (list, create): outside any cluster's pages, so no cluster id can shadow it. */
export const CLUSTERS_PATH = "/ui";

/** The base path of a cluster's pages. */
export const clusterBase = (c: UiContext) => `/ui/${c.get("cluster").id}`;

export type ClusterRpc = ReturnType<typeof clusterStub>;
/** A Marathon app as the UI's pages read it from the Cluster object. */
export type AppInfo = Awaited<ReturnType<ClusterRpc["marathonApps"]>>[number];

/** The cluster's Durable Object: pages call the same RPC methods the API routes do. */
export const clusterOf = (c: UiContext) => clusterStub(c.env, c.get("cluster").id);

/** The cluster's commands acting for the signed-in user: changes made through it are audited. */
export const actingOf = (c: UiContext) => actingStub(c.env, c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") });
