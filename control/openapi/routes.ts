import { Hono } from "hono";
import type { RouterRoute } from "hono/types";
import { DCX_VERSION } from "../api/mesos-json.ts";
import type { AppEnv } from "../http/env.ts";
import { type OpenApiBuild, buildOpenApi } from "./document.ts";
import { DOCS_PAGE_CSP, docsPage } from "./page.tsx";

/**
 * `/openapi.json` and `/docs`, built once per isolate from the Worker's route table (`routes`
 * is read on the first request, when every route is mounted). Public, like the routes' shapes.
 */
export function openApiRoutes(routes: () => readonly RouterRoute[]) {
  let built: OpenApiBuild | undefined;
  const build = () => (built ??= buildOpenApi(routes(), DCX_VERSION));
  return (
    new Hono<AppEnv>()
      // Any origin may read it: API tools in a browser (editors, client generators) load it cross-origin, and it holds no secret.
      .get("/openapi.json", (c) => c.json({ ...build().document, servers: [{ url: new URL(c.req.url).origin }] }, 200, { "Access-Control-Allow-Origin": "*" }))
      .get("/docs", (c) => {
        const { document, operations } = build();
        return c.html(docsPage(document, operations), 200, { "Content-Security-Policy": DOCS_PAGE_CSP, "X-Content-Type-Options": "nosniff" });
      })
  );
}
