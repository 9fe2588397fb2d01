import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { API_TOKEN_TTL_MS } from "../accounts/users.ts";
import { isWellFormedToken } from "../crypto.ts";
import { isHttps } from "./security.ts";
import { toBase64 } from "../../protocol/bytes.ts";

/**
 * The browser session of the web UI. The cookie carries an ordinary user API token (issued at
 * login or signup by the accounts code), so a session is revoked, expires and is looked up
 * exactly like a token. It is HttpOnly (page scripts never see it) and SameSite=Lax (other sites'
 * subrequests and form posts do not carry it). Over HTTPS it is `__Host-dcx_session`: the
 * browser only keeps a `__Host-` cookie that is Secure, has Path=/ and no Domain, so neither
 * a sibling subdomain nor a plain-HTTP page can plant or overwrite it. `__Host-` cookies
 * need Secure, which a browser refuses on plain HTTP, so local development over
 * http://127.0.0.1 uses the plain name `dcx_session`, and each name is read only over the
 * scheme it was set for.
 *
 * Cross-site request forgery is refused twice over: a change made with the cookie must come
 * from this origin (`Origin` / `Sec-Fetch-Site`) and must carry the CSRF token of the session,
 * an HMAC of the session token that only pages of this origin are given.
 */

export const SESSION_COOKIE = "__Host-dcx_session";
/** The cookie's name over plain HTTP (local development), where a `__Host-` cookie cannot be set. */
export const DEV_SESSION_COOKIE = "dcx_session";
/** The header API calls made with the session cookie send the CSRF token in. */
export const CSRF_HEADER = "X-CSRF-Token";
/** The form field UI forms send the CSRF token in. */
export const CSRF_FIELD = "_csrf";

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

export const isSafeMethod = (method: string) => SAFE_METHODS.has(method.toUpperCase());

/** The session token from the cookie, if there is one that looks like a user token. */
export function sessionToken(c: Context): string | undefined {
  const value = getCookie(c, cookieName(c));
  return value && isWellFormedToken(value, "user") ? value : undefined;
}

/** The session cookie's name for this request's scheme. */
export const cookieName = (c: Context) => (isHttps(c) ? SESSION_COOKIE : DEV_SESSION_COOKIE);

/** Sets the session cookie to a freshly issued user token; it lives as long as the token. */
export function startSession(c: Context, token: string): void {
  setCookie(c, cookieName(c), token, {
    httpOnly: true,
    sameSite: "Lax",
    secure: isHttps(c),
    path: "/",
    maxAge: Math.floor(API_TOKEN_TTL_MS / 1000),
  });
}

export function endSession(c: Context): void {
  deleteCookie(c, cookieName(c), { path: "/", secure: isHttps(c), httpOnly: true, sameSite: "Lax" });
}

/**
 * Why the request does not come from a page of this origin, or undefined when it does. A
 * browser names the page's origin in `Origin` (always on a POST) and says how the request
 * relates to it in `Sec-Fetch-Site`; tools such as curl send neither, and are not a forgery
 * vector because they hold the cookie themselves.
 */
export function crossOriginReason(c: Context): string | undefined {
  const own = new URL(c.req.url).origin;
  const origin = c.req.header("Origin");
  if (origin !== undefined && origin !== own) return `the request comes from another origin (${origin.slice(0, 100)})`;
  const site = c.req.header("Sec-Fetch-Site");
  if (site !== undefined && site !== "same-origin" && site !== "none") return `the request comes from a ${site.slice(0, 20)} page`;
  return undefined;
}

const encoder = new TextEncoder();

/** The CSRF token of a session: HMAC-SHA256 keyed by the session token, so it cannot be derived without the cookie. */
export async function csrfToken(session: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(session), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode("dcx-ui-csrf-v1"))), true);
}

/** Whether `presented` is the session's CSRF token (compared in constant time). */
export async function csrfValid(session: string, presented: string | undefined): Promise<boolean> {
  if (!presented) return false;
  const expected = await csrfToken(session);
  if (presented.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ presented.charCodeAt(i);
  return diff === 0;
}
