import { Hono, type Context } from "hono";
import type { z } from "zod";
import type { AppEnv } from "../../http/env.ts";
import { CosmosError, renderCosmosError } from "../../packages/errors.ts";
import { findPackage, installPackage, refreshStale, repositoryLimits, resolvePackage } from "../../packages/operations.ts";
import { fetchResource, resourceUrl } from "../../packages/resource.ts";
import { renderPackage } from "../../packages/render.ts";
import {
  DescribeRequest,
  InstallRequest,
  ListRequest,
  ListVersionsRequest,
  RenderRequest,
  SearchRequest,
  ServiceDescribeRequest,
  ServiceUpdateRequest,
  UninstallRequest,
} from "../../packages/requests.ts";
import { describeService, updateService } from "../../packages/service-update.ts";
import type { SearchResult } from "../../packages/search.ts";
import { decodeTemplate, newestFirst, type PackageDefinition } from "../../packages/universe.ts";
import { cluster } from "../marathon/outcome.ts";
import { cosmos, scopeOf } from "./cosmos-route.ts";
import { installedPackages, listEntry, uninstall } from "../../packages/installed.ts";
import { addRepositoryRoute, deleteRepositoryRoute, listRepositoriesRoute } from "./repositories.ts";

/** `describe-response`: v3 `{package}`, v2 the package itself, v1 Cosmos's first split form. */
function describeBody(pkg: PackageDefinition, version: number) {
  if (version === 3) return { package: pkg };
  if (version === 2) return pkg;
  const { marathon: _template, config, resource, command, ...details } = pkg;
  return {
    package: details,
    marathonMustache: decodeTemplate(pkg) ?? "",
    ...(config ? { config } : {}),
    ...(resource ? { resource } : {}),
    ...(command ? { command } : {}),
  };
}

/** Install: the operation the UI shares, answered as install-response v2 or v1. */
async function install(c: Context<AppEnv>, body: z.output<typeof InstallRequest>, version: number) {
  const { pkg, appId } = await installPackage(scopeOf(c), body);
  if (version === 1) return { packageName: pkg.name, packageVersion: pkg.version, appId };
  const cli = pkg.resource?.cli;
  return {
    packageName: pkg.name,
    packageVersion: pkg.version,
    ...(appId ? { appId } : {}),
    ...(pkg.postInstallNotes ? { postInstallNotes: pkg.postInstallNotes } : {}),
    ...(cli ? { cli } : {}),
  };
}

/**
 * `GET /package/resource?url=…`: a resource a package names (icon, screenshot, asset), fetched
 * here. Served from the cluster's origin, so it may not run as a page: a sandboxing policy
 * and nosniff keep an SVG or HTML resource inert.
 */
async function resource(c: Context<AppEnv>) {
  try {
    const raw = c.req.query("url");
    const url = resourceUrl(raw);
    // As Cosmos: the URL exactly as a package's resource names it.
    if (!(await cluster(c).packageNamesResource(raw ?? ""))) {
      throw new CosmosError("Forbidden", `No package in this cluster's repositories names the resource ${url.href}.`, { uri: url.href });
    }
    const { body, contentType } = await fetchResource(url, repositoryLimits(c.env).timeoutMs);
    return c.body(body, 200, {
      "Content-Type": contentType,
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "private, max-age=300",
    });
  } catch (err) {
    return renderCosmosError(err, c);
  }
}

/** Cosmos's package API, under `/c/:cluster/package`; every error is a Cosmos error body. */
export const packageRoutes = new Hono<AppEnv>()
  .post(
    "/search",
    cosmos({ request: "package.search-request", response: "package.search-response", versions: [1], body: SearchRequest }, async (c, body) => {
      await refreshStale(scopeOf(c));
      return { packages: JSON.parse(await cluster(c).packageSearch(body.query)) as SearchResult[] };
    }),
  )
  .post(
    "/list-versions",
    cosmos(
      { request: "package.list-versions-request", response: "package.list-versions-response", versions: [1], body: ListVersionsRequest },
      async (c, body) => {
        await refreshStale(scopeOf(c));
        const found = await findPackage(scopeOf(c), body.packageName);
        if (!found) throw new CosmosError("PackageNotFound", `Package [${body.packageName}] not found`, { packageName: body.packageName });
        return { results: Object.fromEntries(newestFirst(found.versions).map((v) => [v.version, String(v.releaseVersion)])) };
      },
    ),
  )
  .post(
    "/describe",
    cosmos(
      { request: "package.describe-request", response: "package.describe-response", versions: [3, 2, 1], body: DescribeRequest },
      async (c, body, version) => {
        const { pkg } = await resolvePackage(scopeOf(c), body.packageName, body.packageVersion);
        return describeBody(pkg, version);
      },
    ),
  )
  .post(
    "/render",
    cosmos({ request: "package.render-request", response: "package.render-response", versions: [1], body: RenderRequest }, async (c, body) => {
      const { pkg, source } = await resolvePackage(scopeOf(c), body.packageName, body.packageVersion);
      const { app, kind } = await renderPackage(pkg, source, body.options ?? {}, body.appId);
      if (!app) throw new CosmosError("MalformedRequest", `Package ${pkg.name} ${pkg.version} has no Marathon template to render.`);
      // A job-style package renders its job under `metronomeJson` (DCX's extension).
      return kind === "job" ? { metronomeJson: app } : { marathonJson: app };
    }),
  )
  .post("/install", cosmos({ request: "package.install-request", response: "package.install-response", versions: [2, 1], body: InstallRequest }, install))
  .post(
    "/uninstall",
    cosmos({ request: "package.uninstall-request", response: "package.uninstall-response", versions: [1], body: UninstallRequest }, (c, body) =>
      uninstall(scopeOf(c), body),
    ),
  )
  .post(
    "/list",
    cosmos({ request: "package.list-request", response: "package.list-response", versions: [1], body: ListRequest }, async (c, body) => ({
      packages: (await installedPackages(cluster(c), body)).map(listEntry),
    })),
  )
  .get("/resource", resource)
  .post("/repository/list", listRepositoriesRoute)
  .post("/repository/add", addRepositoryRoute)
  .post("/repository/delete", deleteRepositoryRoute);

/** Cosmos's service API, reached as `/cosmos/service/…` through Admin Router: update an installed package in place. */
export const cosmosServiceRoutes = new Hono<AppEnv>()
  .post(
    "/describe",
    cosmos({ request: "service.describe-request", response: "service.describe-response", versions: [1], body: ServiceDescribeRequest }, (c, body) =>
      describeService(scopeOf(c), body.appId),
    ),
  )
  .post(
    "/update",
    cosmos({ request: "service.update-request", response: "service.update-response", versions: [1], body: ServiceUpdateRequest }, (c, body) =>
      updateService(scopeOf(c), body),
    ),
  );
