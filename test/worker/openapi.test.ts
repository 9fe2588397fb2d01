import { Hono } from "hono";
import type { RouterRoute } from "hono/types";
import { describe, expect, it } from "vitest";
import { Signup } from "../../control/contract/accounts.ts";
import app from "../../control/index.ts";
import { ALIAS_MOUNTS } from "../../control/openapi/aliases.ts";
import { SECTIONS, buildOpenApi, jsonSchema, listedPaths, servedRoutes } from "../../control/openapi/document.ts";
import type { OperationDoc, RouteSection } from "../../control/openapi/types.ts";
import { call } from "./helpers.ts";

type Json = Record<string, unknown>;
const METHODS = ["get", "post", "put", "patch", "delete"];

/** A concrete path for a documented one: ids that are paths get a slash, to reach wildcard routes as clients do. */
function samplePath(path: string): string {
  return path
    .replace(/\{(appId|groupId|serviceId)\}/g, "shop/web")
    .replace(/\{cluster\}/g, "c1")
    .replace(/\{\w+\}/g, "x1");
}

/** The routes Hono's router picks for a request (it stores each handler with its route-table entry). */
function matchedRoutes(method: string, path: string): RouterRoute[] {
  const [matches] = app.router.match(method, path) as unknown as [[[unknown, RouterRoute], unknown][]];
  return matches.map(([[, route]]) => route);
}

describe("the OpenAPI document and the router", () => {
  const built = buildOpenApi(app.routes, "test");

  it("describes every (method, path) the Worker serves, and nothing it does not", () => {
    expect(built.problems).toEqual([]);
    const served = [...servedRoutes(app.routes).keys()].sort();
    expect([...new Set(built.operations.map((o) => o.route))].sort()).toEqual(served);
    expect(served.length).toBeGreaterThan(100);
  });

  it("every documented operation reaches, through the router itself, the route it documents", () => {
    for (const op of built.operations) {
      const [method, path] = op.route.split(" ") as [string, string];
      const routes = matchedRoutes(method, samplePath(op.path));
      expect(
        routes.some((r) => r.method === method && r.path === path),
        `${op.method.toUpperCase()} ${op.path} does not reach ${op.route}`,
      ).toBe(true);
    }
  });

  it("request bodies are the zod schemas the routes validate with", () => {
    const served = servedRoutes(app.routes);
    const operation = (method: string, path: string) => (built.document.paths as Record<string, Record<string, Json>>)[path]?.[method];
    const bodyOf = (method: string, path: string) =>
      (operation(method, path)?.requestBody as { content: Record<string, { schema: Json }> } | undefined)?.content["application/json"]?.schema;
    expect(bodyOf("post", "/auth/signup")).toEqual(jsonSchema(Signup));
    const appBody = bodyOf("post", "/c/{cluster}/v2/apps");
    expect(Object.keys((appBody?.properties as Json) ?? {})).toEqual(expect.arrayContaining(["id", "cmd", "instances", "container", "healthChecks"]));
    expect(bodyOf("post", "/c/{cluster}/v1/jobs")?.required).toEqual(expect.arrayContaining(["id", "run"]));
    // A route that reads no JSON body documents none.
    expect(operation("get", "/c/{cluster}/v2/apps")?.requestBody).toBeUndefined();
    expect(served.has("GET /c/:cluster/v2/apps")).toBe(true);
  });

  it("a route added without docs, or docs left for a route removed, are problems", () => {
    const extra = new Hono().get("/c/:cluster/v2/something-new", (c) => c.text("")).routes;
    expect(buildOpenApi([...app.routes, ...extra], "test").problems).toEqual([expect.stringContaining("GET /c/:cluster/v2/something-new")]);
    const without = app.routes.filter((r) => !(r.method === "GET" && r.path === "/c/:cluster/v2/queue"));
    expect(buildOpenApi(without, "test").problems).toEqual([
      expect.stringContaining("serves no GET /c/:cluster/v2/queue"),
      // Its DC/OS path is still served, standing for a route that is gone.
      expect.stringContaining(
        "serves GET /c/:cluster/service/marathon/v2/queue under the alias /c/:cluster/service/marathon, but not GET /c/:cluster/v2/queue",
      ),
    ]);
  });

  it("a route under a DC/OS path is documented from its route at the cluster root, and needs no doc of its own", () => {
    const paths = built.document.paths as Record<string, Record<string, Json>>;
    for (const [alias, canonical, method] of [
      ["/c/{cluster}/service/marathon/v2/apps", "/c/{cluster}/v2/apps", "post"],
      ["/c/{cluster}/service/marathon/v2/apps/{appId}", "/c/{cluster}/v2/apps/{appId}", "put"],
      ["/c/{cluster}/service/metronome/v1/jobs/{jobId}", "/c/{cluster}/v1/jobs/{jobId}", "get"],
      ["/c/{cluster}/mesos/master/tasks", "/c/{cluster}/master/tasks", "get"],
      ["/c/{cluster}/mesos/state-summary", "/c/{cluster}/state-summary", "get"],
    ] as const) {
      const [a, c] = [paths[alias]?.[method], paths[canonical]?.[method]];
      expect(a?.summary, alias).toBe(`Same as \`${method.toUpperCase()} ${canonical}\``);
      expect(a?.description).toContain(String(c?.summary));
      expect(a?.tags).toEqual(["DC/OS paths"]);
      const query = (op: Json | undefined) => (op?.parameters as Json[]).filter((p) => p.in === "query");
      expect(query(a)).toEqual(query(c));
      expect([a?.requestBody, a?.responses, a?.security]).toEqual([c?.requestBody, c?.responses, c?.security]);
    }
    // A new route served at the root and under a DC/OS path is one problem, its root's; an alias alone stands for nothing.
    const both = new Hono().get("/c/:cluster/v2/new-one", (c) => c.text("")).get("/c/:cluster/service/marathon/v2/new-one", (c) => c.text("")).routes;
    expect(buildOpenApi([...app.routes, ...both], "test").problems).toEqual([
      expect.stringContaining("serves GET /c/:cluster/v2/new-one, which the document does not describe"),
    ]);
    const aliasOnly = new Hono().get("/c/:cluster/mesos/only-here", (c) => c.text("")).routes;
    expect(buildOpenApi([...app.routes, ...aliasOnly], "test").problems).toEqual([expect.stringContaining("but not GET /c/:cluster/only-here")]);
  });

  it("every alias mount is mounted, and a doc written for a route under one is a problem", () => {
    for (const { mount } of ALIAS_MOUNTS)
      expect(
        app.routes.some((r) => r.path.startsWith(`${mount}/`)),
        mount,
      ).toBe(true);
    const stray: RouteSection = { tag: "Stray", description: "", routes: { "GET /c/:cluster/service/marathon/v2/apps": { summary: "A second doc" } } };
    expect(buildOpenApi(app.routes, "test", [...SECTIONS, stray]).problems).toEqual([expect.stringContaining("document GET /c/:cluster/v2/apps instead")]);
  });

  it("a pattern route that lists its names needs a doc for each name", () => {
    const key = "GET /c/:cluster/:endpoint{state|state\\.json|slaves|frameworks|tasks|state-summary|roles|flags|version}";
    expect(listedPaths(key.slice(4))).toContain("/c/{cluster}/state.json");
    expect(listedPaths("/c/:cluster/master/:endpoint{[a-z.-]+}")).toEqual([]);
    const section = SECTIONS.find((s) => s.routes[key]) as RouteSection;
    const short = (section.routes[key] as readonly OperationDoc[]).filter((d) => d.path !== "/c/{cluster}/flags");
    const sections = SECTIONS.map((s) => (s === section ? { ...s, routes: { ...s.routes, [key]: short } } : s));
    expect(buildOpenApi(app.routes, "test", sections).problems).toEqual([`${key} answers /c/{cluster}/flags, which its docs do not list`]);
  });

  it("GET /openapi.json serves it, with this origin as the server and unique operation ids", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    const doc = (await res.json()) as { openapi: string; servers: { url: string }[]; paths: Record<string, Record<string, Json>> };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "http://dcx.test" }]);
    const ids = Object.values(doc.paths).flatMap((item) => METHODS.flatMap((m) => (item[m] ? [item[m].operationId] : [])));
    expect(ids).toHaveLength(built.operations.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths["/c/{cluster}/metrics/prometheus"]?.get?.summary).toContain("Prometheus");
  });

  it("GET /docs is a self-contained page listing every operation, loading nothing from anywhere", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/html");
    expect(res.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    const html = await res.text();
    for (const op of built.operations) expect(html).toContain(`<code>${op.path}</code>`);
    expect(html).not.toMatch(/<script|<link|\ssrc=|url\(/i);
    expect(html.match(/href="([^"#][^"]*)"/g)).toEqual(['href="/openapi.json"']);
  });
});
