import type { RouterRoute } from "hono/types";
import { z } from "zod";
import { bodySchemaOf } from "../http/middleware.ts";
import { accountSection, agentSection, clusterSection, dnsSection, observabilitySection, serviceSection } from "./sections-platform.ts";
import { serviceProxySection } from "./sections-services.ts";
import { marathonSection, mesosSection, metronomeSection } from "./sections-frameworks.ts";
import { packageSection } from "./sections-packages.ts";
import { uiSection } from "./sections-ui.ts";
import { type AliasedRoute, aliasDoc, aliasedRoute, aliasSection } from "./aliases.ts";
import type { Auth, OperationDoc, QueryDoc, ResponseDoc, RouteSection } from "./types.ts";

/**
 * The OpenAPI 3.1 document, built from the Worker's own route table (Hono's `app.routes`):
 * every (method, path) the router serves becomes an operation, each request body schema is the
 * zod schema its `jsonBody` middleware validates with (or, where a route checks a loose object
 * first, the schema it checks with next), converted by zod's `toJSONSchema`. The sections add
 * summaries, query parameters and responses. A served route without a doc, or a doc without
 * a route, is a problem: the test fails on any, so the document cannot drift from the router.
 * A route under an alias mount (DC/OS's paths, control/openapi/aliases.ts) is documented from
 * its canonical route's doc, and needs none of its own.
 */

export const SECTIONS: readonly RouteSection[] = [
  serviceSection,
  accountSection,
  clusterSection,
  agentSection,
  marathonSection,
  metronomeSection,
  mesosSection,
  aliasSection,
  packageSection,
  dnsSection,
  observabilitySection,
  serviceProxySection,
  uiSection,
];

type Json = Record<string, unknown>;

/** One documented operation, as placed in the document (for tests and the docs page). */
export interface PlacedOperation {
  /** The route-table key, `METHOD /hono/path`. */
  route: string;
  method: string;
  path: string;
  tag: string;
  operation: Json;
}

export interface OpenApiBuild {
  document: Json;
  operations: PlacedOperation[];
  /** Routes without docs, docs without routes, and docs that do not fit their route. */
  problems: string[];
}

/** The route table's operations by `METHOD /path`: middleware (`use`, method ALL) is not an operation. */
export function servedRoutes(routes: readonly RouterRoute[]): Map<string, RouterRoute[]> {
  const served = new Map<string, RouterRoute[]>();
  for (const r of routes) {
    if (r.method === "ALL") continue;
    const key = `${r.method} ${r.path}`;
    served.set(key, [...(served.get(key) ?? []), r]);
  }
  return served;
}

/** What placing the served routes reads: the route table, the docs by route key, and where problems go. */
interface Build {
  served: Map<string, RouterRoute[]>;
  docs: Map<string, { section: RouteSection; docs: readonly OperationDoc[] }>;
  problems: string[];
}

/** One served (method, path): its key, its route-table entry, and the body schema its `jsonBody` validates. */
interface ServedRoute {
  key: string;
  route: RouterRoute;
  edgeBody: z.ZodType | undefined;
}

/** Builds the document for the given route table (from SECTIONS' docs; tests give others). */
export function buildOpenApi(routes: readonly RouterRoute[], version: string, sections: readonly RouteSection[] = SECTIONS): OpenApiBuild {
  const served = servedRoutes(routes);
  const docs = new Map(
    sections.flatMap((s) =>
      Object.entries(s.routes).map(
        ([key, doc]) => [key, { section: s, docs: Array.isArray(doc) ? (doc as readonly OperationDoc[]) : [doc as OperationDoc] }] as const,
      ),
    ),
  );
  const b: Build = { served, docs, problems: [] };
  for (const key of docs.keys()) {
    const aliased = aliasedRoute(key);
    if (aliased)
      b.problems.push(`${key} is documented under ${aliased.alias.mount}: document ${aliased.canonicalKey} instead, and its alias is documented from it`);
    else if (!served.has(key)) b.problems.push(`documented, but the Worker serves no ${key}`);
  }
  const operations: PlacedOperation[] = [];
  for (const [key, entries] of served) {
    const edgeBody = entries.map((e) => bodySchemaOf(e.handler)).find((s) => s !== undefined);
    const route: ServedRoute = { key, route: entries[0] as RouterRoute, edgeBody };
    const aliased = aliasedRoute(key);
    operations.push(...(aliased ? placeAliased(b, route, aliased) : placeDocumented(b, route)));
  }
  return { document: assemble(operations, version, b.problems), operations, problems: b.problems };
}

function placeDocumented(b: Build, served: ServedRoute): PlacedOperation[] {
  const found = b.docs.get(served.key);
  if (!found) {
    b.problems.push(`the Worker serves ${served.key}, which the document does not describe (add it to a section in control/openapi/)`);
    return [];
  }
  const placement = { tag: found.section.tag, auth: found.section.auth };
  const placed = found.docs.flatMap((doc) => placeOperation(served, doc, placement, b.problems) ?? []);
  const documented = new Set(placed.map((p) => p.path));
  for (const path of listedPaths(served.route.path)) if (!documented.has(path)) b.problems.push(`${served.key} answers ${path}, which its docs do not list`);
  return placed;
}

/**
 * The paths a pattern route answers when its pattern lists them (`/c/:cluster/:endpoint{state|flags}`
 * → `/c/{cluster}/state`, `/c/{cluster}/flags`); none for a pattern that is not a plain list.
 */
export function listedPaths(honoPath: string): string[] {
  const m = /:\w+\{([^}]*)\}/.exec(honoPath);
  if (!m) return [];
  const [before, after] = [honoPath.slice(0, m.index), honoPath.slice(m.index + m[0].length)];
  const names = (m[1] ?? "").split("|");
  if (!names.every((n) => /^(?:[\w-]|\\\.)+$/.test(n))) return [];
  return names.flatMap((n) => templated(before + n.replaceAll("\\.", ".") + after) ?? []);
}

/** A route under an alias mount, documented from its canonical route's docs (a canonical route without docs is reported as itself). */
function placeAliased(b: Build, served: ServedRoute, aliased: AliasedRoute): PlacedOperation[] {
  const canonical = b.served.get(aliased.canonicalKey)?.[0];
  if (!canonical) {
    b.problems.push(
      `the Worker serves ${served.key} under the alias ${aliased.alias.mount}, but not ${aliased.canonicalKey}, which it stands for (mount the route at ${aliased.alias.canonical} too)`,
    );
    return [];
  }
  const found = b.docs.get(aliased.canonicalKey);
  if (!found) return [];
  const placement = { tag: aliasSection.tag, auth: found.section.auth };
  return found.docs.flatMap((doc) => {
    const canonicalPath = doc.path ?? templated(canonical.path);
    if (canonicalPath === undefined) return []; // Reported for the canonical route.
    const alias = aliasDoc(aliased.alias, served.route.method, canonicalPath, doc);
    if (!alias) {
      b.problems.push(
        `${aliased.canonicalKey}: its documented path ${canonicalPath} is not under ${aliased.alias.canonical}, so its alias ${served.key} has no path`,
      );
      return [];
    }
    return placeOperation(served, alias, placement, b.problems) ?? [];
  });
}

/** Where an operation goes: its tag, and who may call it unless its doc says. */
interface Placement {
  tag: string;
  auth: Auth | undefined;
}

function placeOperation({ key, route, edgeBody }: ServedRoute, doc: OperationDoc, placement: Placement, problems: string[]): PlacedOperation | undefined {
  const path = doc.path ?? templated(route.path);
  if (path === undefined) {
    problems.push(`${key}: a wildcard or pattern route needs the paths it answers ('path' in its doc)`);
    return undefined;
  }
  if (doc.body && !edgeBody) problems.push(`${key}: the doc gives a body, but the route reads none with jsonBody`);
  const body = doc.body ?? edgeBody;
  const auth = doc.auth ?? placement.auth ?? "token";
  const operation: Json = {
    operationId: operationId(route.method, path),
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [placement.tag],
    parameters: [...pathParameters(path), ...queryParameters(doc)],
    ...(body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(body) } } } } : {}),
    responses: responses(doc, auth),
    security: SECURITY[auth],
  };
  return { route: key, method: route.method.toLowerCase(), path, tag: placement.tag, operation };
}

function assemble(operations: PlacedOperation[], version: string, problems: string[]): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) problems.push(`${op.method.toUpperCase()} ${op.path} is documented twice`);
    item[op.method] = op.operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "DCX",
      version,
      summary: "A data-center operating system on Cloudflare Workers: Marathon, Metronome, Mesos state and Mesos-DNS APIs per cluster.",
      description: "Errors are `{message, details}`; validation errors (422) name each field as `{path, errors}`, as Marathon does.",
    },
    tags: SECTIONS.map((s) => ({ name: s.tag, description: s.description })),
    paths,
    components: {
      securitySchemes: {
        apiToken: {
          type: "http",
          scheme: "bearer",
          description: "A user API token (`dcxu_…`); agents use their credential on the agent and DoH routes. `Authorization: token=<token>` works too.",
        },
        session: { type: "apiKey", in: "cookie", name: "dcx_session", description: "The web UI's session; changes also need the page's X-CSRF-Token." },
      },
      schemas: { Error: ERROR_SCHEMA },
      responses: {
        Error: { description: "An error: `{message, details}`.", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
      },
    },
  };
}

const SECURITY: Record<Auth, Json[]> = { token: [{ apiToken: [] }], none: [], session: [{ session: [] }] };

const ERROR_SCHEMA = {
  type: "object",
  required: ["message"],
  properties: {
    message: { type: "string" },
    details: { type: "array", items: { type: "object", properties: { path: { type: "string" }, errors: { type: "array", items: { type: "string" } } } } },
  },
};

/** `/c/:cluster/agents/:agentId` → `/c/{cluster}/agents/{agentId}`; undefined for wildcards and patterns. */
export function templated(honoPath: string): string | undefined {
  if (honoPath.includes("*") || /:\w+\{/.test(honoPath)) return undefined;
  return honoPath.replace(/:(\w+)/g, "{$1}");
}

function operationId(method: string, path: string): string {
  const words = path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w, i) => (i === 0 ? w : w[0]?.toUpperCase() + w.slice(1)));
  return `${method.toLowerCase()}${words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join("")}`;
}

/** What each path parameter is; ids that are paths (apps, groups, services) may hold slashes. */
const PATH_PARAMS: Record<string, string> = {
  cluster: "The cluster's id.",
  id: "The id of the resource.",
  appId: "The app's id, a path such as `shop/web` (its slashes stay as they are).",
  groupId: "The group's id, a path such as `shop` (its slashes stay as they are).",
  serviceId: "The service's or group's id, a path.",
  version: "A version: the ISO timestamp the app got when it changed.",
};

function pathParameters(path: string): Json[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name = ""]) => ({
    name,
    in: "path",
    required: true,
    description: PATH_PARAMS[name] ?? `The ${name.replace(/Id$/, " id")}.`,
    schema: { type: "string" },
  }));
}

function queryParameters(doc: OperationDoc): Json[] {
  const fromDocs = Object.entries(doc.query ?? {}).map(([name, q]) => queryParameter(name, q));
  if (!doc.querySchema) return fromDocs;
  const schema = jsonSchema(doc.querySchema);
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  return [...fromDocs, ...Object.entries(properties).map(([name, s]) => ({ name, in: "query", required: required.has(name), schema: s }))];
}

function queryParameter(name: string, q: QueryDoc): Json {
  const scalar: Json = { type: q.type ?? "string", ...(q.enum ? { enum: [...q.enum] } : {}) };
  const schema = q.repeated ? { type: "array", items: scalar } : scalar;
  return { name, in: "query", description: q.description, schema, ...(q.repeated ? { style: "form", explode: true } : {}) };
}

/** Statuses that carry no body. */
const NO_BODY = new Set(["101", "202", "204", "303"]);

function responses(doc: OperationDoc, auth: Auth): Json {
  const out: Json = {};
  for (const [status, r] of Object.entries(doc.responses ?? { 200: "OK" })) {
    const { description, contentType = "application/json" }: ResponseDoc = typeof r === "string" ? { description: r } : r;
    out[status] = NO_BODY.has(status) ? { description } : { description, content: { [contentType]: {} } };
  }
  // Errors of API routes are JSON; the UI's are HTML pages.
  if (auth !== "session") out.default = { $ref: "#/components/responses/Error" };
  return out;
}

/** The JSON Schema (2020-12, as OpenAPI 3.1 uses) of what a client sends: zod's input side. */
export function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Json;
  return rest;
}
