import type { Context } from "hono";
import { MAX_JSON_DEPTH } from "../../protocol/messages.ts";
import { createMiddleware } from "hono/factory";
import { validator } from "hono/validator";
import type { z } from "zod";
import { accountsDb } from "../accounts/db.ts";
import type { Background } from "../accounts/auth-cache.ts";
import { clusterForMember } from "../accounts/clusters.ts";
import { userForToken } from "../accounts/users.ts";
import { isWellFormedToken } from "../crypto.ts";
import { ApiError, unauthenticated, validationError } from "../errors.ts";
import type { AppEnv } from "./env.ts";
import { CSRF_HEADER, crossOriginReason, csrfValid, isSafeMethod, sessionToken } from "./session.ts";

/** Opens the accounts database once per request. */
export const withDb = createMiddleware<AppEnv>(async (c, next) => {
  c.set("db", accountsDb(c.env.DB));
  await next();
});

/**
 * Reads a token from `Authorization: Bearer <t>` or the DC/OS form `Authorization: token=<t>`.
 * Returns undefined when the header is absent or has neither form.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\s*(?:Bearer\s+(\S+)|token=(\S+))\s*$/i.exec(header);
  return m?.[1] ?? m?.[2];
}

/**
 * The user and password of HTTP Basic auth (`Authorization: Basic base64(user:password)`), or
 * undefined when the header is not well-formed Basic. Mesos frameworks send their principal
 * and secret this way.
 */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!m?.[1]) return undefined;
  let decoded: string;
  try {
    decoded = atob(m[1]);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The password of HTTP Basic auth: clients that only speak Basic (Marathon's libraries, and
 * their event streams, which cannot add another header) send the API token as the password,
 * with any user name.
 */
export function basicPassword(header: string): string | undefined {
  const password = basicCredentials(header)?.password;
  return password === "" ? undefined : password;
}

/**
 * The request's `waitUntil`, when the runtime gives one (tests outside workerd have none): work
 * that must outlive the response, such as a zone's renewal or an auth entry's refresh.
 */
export function waitUntilOf(c: Context): Background | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}

/**
 * Requires a valid user API token: from the `Authorization` header (Bearer, `token=`, or
 * Basic with the token as the password), or else from the web UI's
 * session cookie when the request may use it (see `cookieSession`).
 */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("Authorization");
  const token = header !== undefined ? (bearerToken(header) ?? basicPassword(header)) : await cookieSession(c);
  if (!token) throw unauthenticated("Missing API token: send 'Authorization: Bearer <token>' (or HTTP Basic auth with the token as the password).");
  // Checked for shape before any lookup: garbage costs no hash and no database read.
  if (!isWellFormedToken(token)) throw unauthenticated("Malformed API token: DCX tokens are a 'dcx?_' prefix and 43 base64url characters.");
  const user = await userForToken(c.get("db"), token, waitUntilOf(c));
  if (!user) throw unauthenticated("Invalid or expired API token.");
  c.set("user", { id: user.id, email: user.email });
  c.set("tokenHash", user.tokenHash);
  c.set("tokenId", user.tokenId);
  await next();
});

/**
 * The session token of the UI's cookie, for API calls the UI's scripts make (event streams,
 * logs, history). Only same-origin requests may use it, and a change (any method but GET,
 * HEAD, OPTIONS) must also carry the session's CSRF token in `X-CSRF-Token`: a page of
 * another site can neither read that token nor set the header without a CORS preflight,
 * which is never granted.
 */
async function cookieSession(c: Context<AppEnv>): Promise<string | undefined> {
  const session = sessionToken(c);
  if (!session) return undefined;
  const foreign = crossOriginReason(c);
  if (foreign) throw new ApiError("forbidden", `The session cookie is only accepted from this site's own pages: ${foreign}.`);
  if (!isSafeMethod(c.req.method) && !(await csrfValid(session, c.req.header(CSRF_HEADER)))) {
    throw new ApiError("forbidden", `A change made with the session cookie must send the page's CSRF token in the ${CSRF_HEADER} header.`);
  }
  return session;
}

/** Requires the user to be a member of the `:cluster` (or `:id`) in the path; anything else is a 404. */
export const requireMember = createMiddleware<AppEnv>(async (c, next) => {
  const clusterId = c.req.param("cluster") ?? c.req.param("id");
  if (!clusterId) throw new ApiError("not_found", "No cluster in the path.");
  c.set("cluster", await clusterForMember(c.get("db"), c.get("user").id, clusterId, waitUntilOf(c)));
  await next();
});

/** Request bodies above this are refused with 413 before they are read. */
export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

export { MAX_JSON_DEPTH };

/**
 * Whether `value` nests deeper than `limit` arrays and objects. It recurses at most `limit`
 * levels (it answers before going deeper), and allocates nothing: every call body goes through it.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (limit <= 0) return true;
  if (Array.isArray(value)) {
    for (const child of value) if (nestsDeeperThan(child, limit - 1)) return true;
    return false;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) if (nestsDeeperThan(object[key], limit - 1)) return true;
  return false;
}

/** The schema each `jsonBody` middleware validates with, so the OpenAPI document shows that very schema. */
const bodySchemas = new WeakMap<object, z.ZodType>();

/** Records the body schema of a handler that validates its JSON itself (Cosmos's versioned media types), for the OpenAPI document. */
export function registerBodySchema(handler: object, schema: z.ZodType): void {
  bodySchemas.set(handler, schema);
}

/** The body schema of a handler in the route table, if it is a `jsonBody` middleware. */
export function bodySchemaOf(handler: object): z.ZodType | undefined {
  return bodySchemas.get(handler);
}

/** 415 unless the request's body is JSON: DCX speaks the Mesos v1 APIs (`api` names it) in JSON, not protobuf. */
function requireMesosJson(c: Context, api: string): void {
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type !== "application/json")
    throw new ApiError(
      "unsupported_media_type",
      `Unsupported Content-Type '${type || "(none)"}': DCX speaks the ${api} in JSON (application/json), not protobuf.`,
    );
}

/**
 * The JSON body of a Mesos v1 API call (`api` names it in messages): 415 for another content
 * type (DCX speaks JSON, not protobuf), 400 for undecodable or too deeply nested JSON. The
 * caller validates the call itself, as Mesos does, with Mesos's messages.
 */
export async function mesosCallBody(c: Context, api: string): Promise<unknown> {
  requireMesosJson(c, api);
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new ApiError("malformed", "Malformed JSON in request body.");
  }
  if (nestsDeeperThan(json, MAX_JSON_DEPTH)) throw new ApiError("malformed", `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  return json;
}

/** The body of a Mesos v1 API call as its text, unparsed, for a reader that parses and checks it itself: 415 for another content type. */
export async function mesosCallText(c: Context, api: string): Promise<string> {
  requireMesosJson(c, api);
  return c.req.text();
}

/**
 * Validates a JSON body with a zod schema: 415 for another content type, 400 for undecodable
 * or too deeply nested JSON, 422 with field paths for a body that does not fit. A missing body
 * is validated as `{}`.
 */
export function jsonBody<S extends z.ZodType>(schema: S) {
  const middleware = validator("json", async (value, c): Promise<z.output<S>> => {
    const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_TYPE.test(mediaType)) {
      const body = await c.req.text();
      if (body.trim() !== "") throw new ApiError("unsupported_media_type", `Unsupported Content-Type '${mediaType || "(none)"}': send application/json.`);
    }
    if (nestsDeeperThan(value, MAX_JSON_DEPTH)) throw new ApiError("malformed", `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`);
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    return parsed.data;
  });
  bodySchemas.set(middleware, schema);
  return middleware;
}
