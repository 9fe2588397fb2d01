import type { z } from "zod";

/**
 * How the OpenAPI document describes the Worker's routes. The route table (Hono's `app.routes`)
 * says which (method, path) pairs exist and which body schema each validates; these docs add
 * what a reader needs: a summary, query parameters, responses, and for a wildcard route the
 * paths it really answers.
 */

/** A query parameter: a plain one, or the properties of the zod schema the route parses its query with. */
export interface QueryDoc {
  description: string;
  type?: "string" | "boolean" | "integer";
  /** Given more than once (`?embed=a&embed=b`), or comma-separated. */
  repeated?: boolean;
  enum?: readonly string[];
}

export interface ResponseDoc {
  description: string;
  /** Defaults to application/json. */
  contentType?: string;
}

/** Who may call: an API token (the default), nobody in particular, or the web UI's session cookie. */
export type Auth = "token" | "none" | "session";

export interface OperationDoc {
  summary: string;
  description?: string;
  /** The documented path, OpenAPI-templated, when the route's own path is a wildcard or a pattern. */
  path?: string;
  query?: Readonly<Record<string, QueryDoc>>;
  /** The zod schema the route parses its whole query with; its properties become the parameters. */
  querySchema?: z.ZodType;
  /**
   * The schema that really validates the body, where the route checks JSON at the edge with a
   * loose schema (any object) and then with this one, so errors carry the resource's own paths.
   */
  body?: z.ZodType;
  /** By status; a string is a JSON response's description. Defaults to `{200: "OK"}`. */
  responses?: Readonly<Record<string, string | ResponseDoc>>;
  auth?: Auth;
}

/** One part of the API (an OpenAPI tag) and its routes, keyed `METHOD /path` exactly as in `app.routes`. */
export interface RouteSection {
  tag: string;
  description: string;
  auth?: Auth;
  routes: Readonly<Record<string, OperationDoc | readonly OperationDoc[]>>;
}
