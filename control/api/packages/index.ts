import { Hono, type Context } from "hono";
import { z } from "zod";
import { parseAppDefinition } from "../../cluster/frameworks/marathon/app-definition.ts";
import { parseJob } from "../../cluster/frameworks/metronome/job-spec.ts";
import { ApiError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { CosmosError, renderCosmosError } from "../../packages/errors.ts";
import { decodeTemplate, newestFirst, type PackageDefinition } from "../../packages/universe.ts";
import { renderPackage } from "../../packages/render.ts";
import type { SearchResult } from "../../packages/search.ts";
import type { PackageSource } from "../../cluster/package-repositories.ts";
import { cluster, unwrap } from "../marathon/outcome.ts";
import { cosmos } from "./cosmos-route.ts";
import { installedPackages, listEntry, uninstall } from "./installed.ts";
import { addRepositoryRoute, deleteRepositoryRoute, listRepositoriesRoute, refreshStale } from "./repositories.ts";

const Options = z.record(z.string(), z.unknown(), { message: "must be a JSON object" });
const PackageName = z.string().min(1).max(128);
const NameAndVersion = z.object({ packageName: PackageName, packageVersion: z.string().min(1).optional() });
const RenderRequest = NameAndVersion.extend({ options: Options.optional(), appId: z.string().min(1).optional() });

/** A package's versions from the first repository that has it; the object sends them as JSON text (they hold free-form JSON). */
async function findPackage(c: Context<AppEnv>, name: string): Promise<PackageSource | undefined> {
  const text = await cluster(c).packageFind(name);
  return text === null ? undefined : (JSON.parse(text) as PackageSource);
}

/** The package (a version of it, or its newest) and the URI of the repository it came from. */
async function resolvePackage(c: Context<AppEnv>, name: string, version?: string): Promise<{ pkg: PackageDefinition; source: string }> {
  await refreshStale(c);
  const found = await findPackage(c, name);
  if (!found) throw new CosmosError("PackageNotFound", `Package [${name}] not found`, { packageName: name });
  const pkg = version === undefined ? newestFirst(found.versions)[0] : found.versions.find((v) => v.version === version);
  if (!pkg) throw new CosmosError("VersionNotFound", `Version [${version}] of package [${name}] not found`, { packageName: name, packageVersion: version });
  return { pkg, source: found.repository.uri };
}

/** `describe-response`: v3 `{package}`, v2 the package itself, v1 Cosmos's first split form. */
function describeBody(pkg: PackageDefinition, version: number) {
  if (version === 3) return { package: pkg };
  if (version === 2) return pkg;
  const { marathon: _template, config, resource, command, ...details } = pkg;
  return { package: details, marathonMustache: decodeTemplate(pkg) ?? "", ...(config ? { config } : {}), ...(resource ? { resource } : {}), ...(command ? { command } : {}) };
}

/**
 * Renders and creates the app through the same steps as `POST /v2/apps` (the app schema, then
 * the Cluster object's create): an app Marathon would refuse is refused here with its paths,
 * and nothing is installed.
 */
async function install(c: Context<AppEnv>, body: z.output<typeof RenderRequest>, version: number) {
  const { pkg, source } = await resolvePackage(c, body.packageName, body.packageVersion);
  const { app, kind } = await renderPackage(pkg, source, body.options ?? {}, body.appId);
  const cli = pkg.resource?.cli;
  const answer = (appId?: string) =>
    version === 1 ? { packageName: pkg.name, packageVersion: pkg.version, appId } : { packageName: pkg.name, packageVersion: pkg.version, ...(appId ? { appId } : {}), ...(pkg.postInstallNotes ? { postInstallNotes: pkg.postInstallNotes } : {}), ...(cli ? { cli } : {}) };
  if (!app) return answer();
  return answer(kind === "job" ? await createJob(c, pkg, app) : await createApp(c, pkg, app));
}

/** A conflict on create means the id is taken: Cosmos's 409 PackageAlreadyInstalled. */
async function creating<T>(id: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (err instanceof ApiError && err.code === "conflict") {
      throw new CosmosError("PackageAlreadyInstalled", `Package is already installed: [${id}] exists (give another appId).`, { appId: id, reason: err.message });
    }
    throw err;
  }
}

const summary = (details: { path: string; errors: string[] }[]) => details.map((d) => `${d.path}: ${d.errors.join(", ")}`).join("; ");

async function createApp(c: Context<AppEnv>, pkg: PackageDefinition, app: Record<string, unknown>): Promise<string> {
  const parsed = parseAppDefinition(app);
  if (!parsed.ok) throw new CosmosError("InvalidMarathonApp", `The app rendered from ${pkg.name} ${pkg.version} is not valid: ${summary(parsed.details)}`, { details: parsed.details });
  const created = await creating(parsed.app.id, async () => unwrap(await cluster(c).marathonCreate(parsed.app)));
  return created.app?.id ?? parsed.app.id;
}

/** A job-style package: the job is created as `POST /v1/jobs` creates it (the job schema, then the object's jobCreate). */
async function createJob(c: Context<AppEnv>, pkg: PackageDefinition, job: Record<string, unknown>): Promise<string> {
  const parsed = parseJob(job);
  if (!parsed.ok) throw new CosmosError("InvalidMetronomeJob", `The job rendered from ${pkg.name} ${pkg.version} is not valid: ${summary(parsed.details)}`, { details: parsed.details });
  await creating(parsed.spec.id, async () => unwrap(await cluster(c).jobCreate(parsed.spec, parsed.schedules)));
  return parsed.spec.id;
}

/** Cosmos's package API, under `/c/:cluster/package`; every error is a Cosmos error body. */
export const packageRoutes = new Hono<AppEnv>()
  .post(
    "/search",
    cosmos({ request: "package.search-request", response: "package.search-response", versions: [1], body: z.object({ query: z.string().max(256).optional() }) }, async (c, body) => {
      await refreshStale(c);
      return { packages: JSON.parse(await cluster(c).packageSearch(body.query)) as SearchResult[] };
    }),
  )
  .post(
    "/list-versions",
    cosmos({ request: "package.list-versions-request", response: "package.list-versions-response", versions: [1], body: z.object({ packageName: PackageName, includePackageVersions: z.boolean().optional() }) }, async (c, body) => {
      await refreshStale(c);
      const found = await findPackage(c, body.packageName);
      if (!found) throw new CosmosError("PackageNotFound", `Package [${body.packageName}] not found`, { packageName: body.packageName });
      return { results: Object.fromEntries(newestFirst(found.versions).map((v) => [v.version, String(v.releaseVersion)])) };
    }),
  )
  .post(
    "/describe",
    cosmos({ request: "package.describe-request", response: "package.describe-response", versions: [3, 2, 1], body: NameAndVersion }, async (c, body, version) => {
      const { pkg } = await resolvePackage(c, body.packageName, body.packageVersion);
      return describeBody(pkg, version);
    }),
  )
  .post(
    "/render",
    cosmos({ request: "package.render-request", response: "package.render-response", versions: [1], body: RenderRequest }, async (c, body) => {
      const { pkg, source } = await resolvePackage(c, body.packageName, body.packageVersion);
      const { app, kind } = await renderPackage(pkg, source, body.options ?? {}, body.appId);
      if (!app) throw new CosmosError("MalformedRequest", `Package ${pkg.name} ${pkg.version} has no Marathon template to render.`);
      // A job-style package renders its job under `metronomeJson` (DCX's extension).
      return kind === "job" ? { metronomeJson: app } : { marathonJson: app };
    }),
  )
  .post("/install", cosmos({ request: "package.install-request", response: "package.install-response", versions: [2, 1], body: RenderRequest }, install))
  .post(
    "/uninstall",
    cosmos({ request: "package.uninstall-request", response: "package.uninstall-response", versions: [1], body: z.object({ packageName: PackageName, appId: z.string().min(1).optional(), all: z.boolean().optional() }) }, (c, body) => uninstall(c, body)),
  )
  .post(
    "/list",
    cosmos({ request: "package.list-request", response: "package.list-response", versions: [1], body: z.object({ packageName: PackageName.optional(), appId: z.string().min(1).optional() }) }, async (c, body) => ({
      packages: (await installedPackages(c, body)).map(listEntry),
    })),
  )
  .post("/repository/list", listRepositoriesRoute)
  .post("/repository/add", addRepositoryRoute)
  .post("/repository/delete", deleteRepositoryRoute)
  .onError(renderCosmosError);

/** Cosmos's `GET /capabilities`, which the DC/OS CLI asks before package commands. */
export const capabilitiesRoutes = new Hono<AppEnv>().get("/", (c) => {
  const accept = c.req.header("Accept");
  if (accept && !/vnd\.dcos\.capabilities\+json|application\/json|\*\/\*/.test(accept)) throw new ApiError("not_acceptable", "Capabilities are served as application/vnd.dcos.capabilities+json;charset=utf-8;version=v1.");
  const body = { capabilities: [{ name: "PACKAGE_MANAGEMENT" }, { name: "METRONOME" }, { name: "LOGGING" }, { name: "LOGGING_V2" }] };
  return c.body(JSON.stringify(body), 200, { "Content-Type": "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1" });
});
