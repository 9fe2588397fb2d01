import { createMiddleware } from "hono/factory";
import { validator } from "hono/validator";
import type { z } from "zod";
import { accountsDb } from "../accounts/db.ts";
import { clusterForMember } from "../accounts/clusters.ts";
import { userForToken } from "../accounts/users.ts";
import { ApiError, unauthenticated, validationError } from "../errors.ts";
import type { AppEnv } from "./env.ts";

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

/** Requires a valid user API token. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw unauthenticated("Missing API token: send 'Authorization: Bearer <token>'.");
  const user = await userForToken(c.get("db"), token);
  if (!user) throw unauthenticated("Invalid or expired API token.");
  c.set("user", { id: user.id, email: user.email });
  c.set("tokenHash", user.tokenHash);
  await next();
});

/** Requires the user to be a member of the `:cluster` (or `:id`) in the path; anything else is a 404. */
export const requireMember = createMiddleware<AppEnv>(async (c, next) => {
  const clusterId = c.req.param("cluster") ?? c.req.param("id");
  if (!clusterId) throw new ApiError("not_found", "No cluster in the path.");
  c.set("cluster", await clusterForMember(c.get("db"), c.get("user").id, clusterId));
  await next();
});

/** Request bodies above this are refused with 413 before they are read. */
export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Validates a JSON body with a zod schema: 415 for another content type, 400 for undecodable
 * JSON, 422 with field paths for a body that does not fit. A missing body is validated as `{}`.
 */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return validator("json", async (value, c): Promise<z.output<S>> => {
    const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_TYPE.test(mediaType)) {
      const body = await c.req.text();
      if (body.trim() !== "") throw new ApiError("unsupported_media_type", `Unsupported Content-Type '${mediaType || "(none)"}': send application/json.`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    return parsed.data;
  });
}
