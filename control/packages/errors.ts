import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { ApiError } from "../errors.ts";
import { ERROR_MEDIA_TYPE } from "./media-types.ts";

/**
 * Cosmos's errors: `{type, message, data?}` under the package error media type. The type is
 * Cosmos's error class name, which clients (the DC/OS CLI, the UI) match on; the status is
 * Cosmos's: 400 unless listed here.
 */
export const COSMOS_ERRORS = {
  PackageNotFound: 400,
  VersionNotFound: 400,
  JsonSchemaMismatch: 400,
  OptionsNotAllowed: 400,
  RepositoryAlreadyPresent: 400,
  RepoNameOrUriMissing: 400,
  RepositoryNotPresent: 400,
  RepositoryLimit: 400,
  RepositoryUriSyntax: 400,
  UnsupportedRepositoryVersion: 400,
  RepositoryInvalid: 400,
  MarathonTemplateMustBeJsonObject: 400,
  RenderedTemplateNotJson: 400,
  InvalidMarathonApp: 400,
  InvalidMetronomeJob: 400,
  PackageNotInstalled: 400,
  MarathonAppNotFound: 400,
  VersionUpgradeNotSupportedInOpen: 400,
  AmbiguousAppId: 400,
  MalformedRequest: 400,
  NotAcceptable: 400,
  UnsupportedContentType: 415,
  Unauthorized: 401,
  Forbidden: 403,
  PackageAlreadyInstalled: 409,
  MarathonAppConflict: 409,
  // DCX: a framework package's service account principal is taken.
  ServiceAccountAlreadyExists: 409,
  // Cosmos answers 500 for a repository it cannot fetch; DCX says 502: the fault is upstream.
  UniverseClientHttpError: 502,
  RepositoryUriConnection: 502,
  RepositoryTooLarge: 400,
  // `/package/resource`: a URL no package names, a bad URL, an upstream that fails, a resource too large.
  EndpointUriSyntax: 400,
  EndpointUriConnection: 502,
  GenericHttpError: 502,
  ResourceTooLarge: 400,
  InternalError: 500,
} as const satisfies Record<string, ContentfulStatusCode>;
export type CosmosErrorType = keyof typeof COSMOS_ERRORS;

export class CosmosError extends Error {
  constructor(
    readonly type: CosmosErrorType,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }

  get status(): ContentfulStatusCode {
    return COSMOS_ERRORS[this.type];
  }
}

/** Maps DCX's own errors (auth, body limit, Marathon outcomes) onto Cosmos's error types. */
function fromApiError(err: ApiError): CosmosError {
  const data = err.details.length > 0 ? { details: err.details } : undefined;
  if (err.code === "unauthenticated") return new CosmosError("Unauthorized", err.message);
  if (err.code === "forbidden") return new CosmosError("Forbidden", err.message);
  if (err.code === "conflict") return new CosmosError("MarathonAppConflict", err.message, data);
  if (err.code === "invalid") return new CosmosError("InvalidMarathonApp", err.message, data);
  if (err.code === "unsupported_media_type") return new CosmosError("UnsupportedContentType", err.message);
  if (err.status < 500) return new CosmosError("MalformedRequest", err.message, data);
  return new CosmosError("InternalError", err.message);
}

/** The `onError` of the package routes: every failure as a Cosmos error body. */
export function renderCosmosError(err: unknown, c: Context): Response {
  let e: CosmosError;
  if (err instanceof CosmosError) e = err;
  else if (err instanceof ApiError) e = fromApiError(err);
  else if (err instanceof HTTPException && err.status < 500)
    e = new CosmosError("MalformedRequest", /json/i.test(err.message) ? "Malformed JSON in request body." : err.message);
  else {
    console.error("unhandled package error", err);
    e = new CosmosError("InternalError", "Internal error.");
  }
  const body: Record<string, unknown> = { type: e.type, message: e.message };
  if (e.data !== undefined) body.data = e.data;
  return c.body(JSON.stringify(body), e.status, { "Content-Type": ERROR_MEDIA_TYPE });
}
