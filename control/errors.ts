import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { fieldErrors, type FieldError } from "../protocol/messages.ts";

/**
 * The one registry of API error codes and their HTTP status. Routes throw `ApiError`s;
 * `renderError` turns any thrown value into `{message, details}` so no route builds an
 * error response by hand and nothing escapes as a bare 500.
 */
export const ERRORS = {
  malformed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  upgrade_required: 426,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  invalid: 422,
  rate_limited: 429,
  header_fields_too_large: 431,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
  gateway_timeout: 504,
} as const satisfies Record<string, ContentfulStatusCode>;
export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown[];
  readonly headers: Record<string, string>;
  /** Extra top-level fields of the body (Marathon's 409 lists the `deployments` holding an app). */
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: unknown[] = [], headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
    this.headers = headers;
    this.extra = extra;
  }

  get status(): ContentfulStatusCode {
    return ERRORS[this.code];
  }
}

/** A Marathon-style validation error: 422 with `details: [{path, errors}]`. */
export function validationError(error: z.ZodError | FieldError[]): ApiError {
  const details = Array.isArray(error) ? error : fieldErrors(error);
  return new ApiError("invalid", "Object is not valid", details);
}

export function notFound(message: string): ApiError {
  return new ApiError("not_found", message);
}

export function unauthenticated(message = "Missing or invalid API token."): ApiError {
  return new ApiError("unauthenticated", message, [], { "WWW-Authenticate": 'Bearer realm="dcx"' });
}

/** Renders any error thrown by a route. Unknown errors are logged and answered with a generic 500. */
export function renderError(err: unknown, c: Context): Response {
  const apiError = toApiError(err);
  if (apiError.code === "internal") console.error("unhandled error", err);
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  const body: Record<string, unknown> = { message: apiError.message, ...apiError.extra };
  if (apiError.details.length > 0 || apiError.code === "invalid") body.details = apiError.details;
  return c.json(body, apiError.status);
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    // Hono's own validators throw these for undecodable bodies.
    const code = (Object.keys(ERRORS) as ErrorCode[]).find((k) => ERRORS[k] === err.status) ?? "malformed";
    const message = err.status === 400 && /json/i.test(err.message) ? "Malformed JSON in request body." : err.message;
    return new ApiError(code, message || "Bad request.");
  }
  return new ApiError("internal", "Internal error.");
}
