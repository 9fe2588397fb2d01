import type { Context } from "hono";
import { HOP_BY_HOP_HEADERS, MAX_PROXY_HEADER_BYTES, MAX_PROXY_URL_BYTES, type HeaderList } from "../../../protocol/index.ts";
import type { ProxyCall } from "../../cluster/service-proxy/service-proxy.ts";
import { ApiError } from "../../errors.ts";
import { clientAddress } from "../../http/security.ts";
import { CSRF_HEADER, DEV_SESSION_COOKIE, SESSION_COOKIE } from "../../http/session.ts";

/**
 * What the Worker checks and cleans before a request goes through the service proxy: the path
 * (no segment may smuggle a `/` or climb with `..`), the size of the URL and headers, and the
 * headers themselves: DCX's own credentials never reach a task (the task is not trusted with
 * the user's token or session), hop-by-hop headers stay on this hop, and the forwarding headers
 * Admin Router sets (`X-Forwarded-*`, `X-Real-IP`, the client's `Host`) are set here, never
 * taken from the client.
 */

const DCX_COOKIES: ReadonlySet<string> = new Set([SESSION_COOKIE, DEV_SESSION_COOKIE]);
/** Headers a client may not set, because this hop sets them or because they are the runtime's. */
const REPLACED = /^(?:host|x-forwarded-.*|x-real-ip|forwarded|cf-.*|x-dcx-.*)$/;

/** The request's path segments after `prefix` (still percent-encoded), refused when one is a path trick. */
export function proxySegments(pathname: string, prefix: string): string[] {
  const segments = pathname.slice(prefix.length + 1).split("/");
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new ApiError("malformed", `The path segment '${segment.slice(0, 60)}' is not valid percent-encoding.`);
    }
    if (/[/\\\0]/.test(decoded))
      throw new ApiError(
        "malformed",
        `The path segment '${segment.slice(0, 60)}' encodes a slash, backslash or NUL: the service proxy refuses encoded path separators.`,
      );
    if (decoded === "." || decoded === "..")
      throw new ApiError("malformed", `The path segment '${segment.slice(0, 60)}' is a dot segment: the service proxy refuses paths that climb.`);
  }
  return segments;
}

/** Refuses a request whose URL or headers are larger than Cloudflare's edge accepts (16 KB, 32 KB). */
export function checkSizes(c: Context): void {
  const url = new URL(c.req.url);
  const urlBytes = url.pathname.length + url.search.length;
  if (urlBytes > MAX_PROXY_URL_BYTES)
    throw new ApiError("uri_too_long", `The path and query are ${urlBytes} bytes; the service proxy takes at most ${MAX_PROXY_URL_BYTES}.`);
  let headerBytes = 0;
  for (const [name, value] of c.req.raw.headers) headerBytes += name.length + value.length + 4;
  if (headerBytes > MAX_PROXY_HEADER_BYTES) {
    throw new ApiError("header_fields_too_large", `The request headers are ${headerBytes} bytes; the service proxy takes at most ${MAX_PROXY_HEADER_BYTES}.`);
  }
}

/**
 * The headers sent on to the task. `dropAuthorization`: the header carried the caller's DCX
 * credential (the member route), not something for the app (public ingress keeps it, since
 * the app does its own auth there).
 */
export function upstreamHeaders(c: Context, dropAuthorization: boolean): HeaderList {
  const out: HeaderList = [];
  for (const [name, value] of c.req.raw.headers) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || REPLACED.test(lower) || lower === CSRF_HEADER.toLowerCase()) continue;
    if (lower === "authorization" && dropAuthorization) continue;
    if (lower === "cookie") {
      const kept = withoutDcxCookies(value);
      if (kept !== "") out.push(["cookie", kept]);
      continue;
    }
    out.push([lower, value]);
  }
  const url = new URL(c.req.url);
  const address = clientAddress(c);
  out.push(
    ["host", url.host],
    ["x-forwarded-host", url.host],
    ["x-forwarded-proto", url.protocol.slice(0, -1)],
    ["x-forwarded-for", address],
    ["x-real-ip", address],
  );
  return out;
}

function withoutDcxCookies(header: string): string {
  return header
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part !== "" && !DCX_COOKIES.has(part.slice(0, part.indexOf("=")).trim()))
    .join("; ");
}

/**
 * The response headers the client gets: hop-by-hop headers dropped, and no `Set-Cookie` that
 * names DCX's session cookie (a task must not plant a session in the browser of DCX's user).
 * `csp` is added; a response without a Content-Security-Policy would otherwise get the API's
 * (`default-src 'none'`), under which no web interface works.
 */
export function clientHeaders(headers: readonly (readonly string[])[], csp: string): Headers {
  const out = new Headers();
  for (const [name = "", value = ""] of headers) {
    const lower = name.toLowerCase();
    // Content-Length goes too: the body is streamed on as it comes, in chunks.
    if (HOP_BY_HOP_HEADERS.has(lower)) continue;
    if (lower === "set-cookie" && DCX_COOKIES.has(value.slice(0, value.indexOf("=")).trim())) continue;
    out.append(name, value);
  }
  out.append("Content-Security-Policy", csp);
  return out;
}

/** The call the Cluster object gets. */
export function proxyCall(c: Context, prefix: string, segments: string[], publicOnly: boolean, dropAuthorization: boolean): ProxyCall {
  const url = new URL(c.req.url);
  return {
    segments,
    search: url.search,
    prefix,
    publicOnly,
    method: c.req.method,
    headers: upstreamHeaders(c, dropAuthorization),
    websocket: c.req.header("Upgrade")?.toLowerCase() === "websocket",
    host: url.host,
  };
}
