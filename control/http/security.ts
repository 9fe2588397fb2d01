import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";

/**
 * Security headers on every response the Worker makes, not only on pages: an API answer
 * read by a browser must not be sniffed into HTML, framed, or leak its URL in a Referer.
 * Pages set their own, richer Content-Security-Policy (control/ui/layout.tsx); what a
 * response already carries is kept. Static assets get the same headers from `_headers`
 * (written by scripts/build-ui.ts), because they are served before the Worker runs.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  // API answers are data, never a document: nothing may load from them, nothing may frame them.
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

/** HSTS, sent over HTTPS only (browsers ignore it on plain HTTP, and local dev is plain HTTP). */
export const HSTS = "max-age=63072000; includeSubDomains";

/** The request's URL is absolute and serialized (its scheme lowercase): no parse needed to read its scheme. */
export const isHttps = (c: Context) => c.req.url.startsWith("https:");

const SECURITY_HEADER_NAMES = Object.keys(SECURITY_HEADERS);
const NOSNIFF = "X-Content-Type-Options";

/**
 * Whether the response still needs header `name`: one it lacks, or a nosniff that is not
 * "nosniff" (a proxied task's response never turns sniffing back on). Other headers it carries are kept.
 */
const needs = (headers: Headers, name: string) => (name === NOSNIFF ? headers.get(name) !== SECURITY_HEADERS[NOSNIFF] : !headers.has(name));

/** Adds the security headers after the route has answered. WebSocket upgrades (101) are left alone. */
export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if (c.res.status === 101) return;
  const missing = SECURITY_HEADER_NAMES.filter((name) => needs(c.res.headers, name));
  const https = isHttps(c);
  if (missing.length === 0 && !https) return;
  try {
    addHeaders(c.res.headers, missing, https);
  } catch {
    // A response passed through from a subrequest has immutable headers (the first write threw): copy it once.
    c.res = new Response(c.res.body, c.res);
    addHeaders(c.res.headers, missing, https);
  }
});

function addHeaders(headers: Headers, names: readonly string[], https: boolean): void {
  for (const name of names) headers.set(name, SECURITY_HEADERS[name] ?? "");
  if (https) headers.set("Strict-Transport-Security", HSTS);
}

/**
 * The client's address: Cloudflare's edge (and locally `wrangler dev` and Miniflare's entry)
 * sets CF-Connecting-IP and a client cannot forge it there. Without it (a request from inside
 * the runtime, in tests, or on the local runtime's direct socket) every such caller shares one
 * address, "unknown".
 */
export function clientAddress(c: Context): string {
  return c.req.header("CF-Connecting-IP")?.slice(0, 64) || "unknown";
}
