import { parseAppDefinition } from "../cluster/frameworks/marathon/app-definition.ts";
import { parseJob } from "../cluster/frameworks/metronome/job-spec.ts";
import type { PackageSource } from "../cluster/package-repositories.ts";
import type { ActingCommands, clusterStub } from "../cluster-stub.ts";
import { unwrap } from "../operations/outcome.ts";
import { ApiError } from "../errors.ts";
import { BUILTIN_REPOSITORY } from "./catalog/index.ts";
import { CosmosError } from "./errors.ts";
import { fetchRepository, type FetchLimits } from "./fetch-repository.ts";
import {
  createSchedulerAccount,
  forgetSchedulerSecret,
  PLACEHOLDER,
  principalFor,
  revokeSchedulerAccount,
  storeSchedulerSecret,
  withFramework,
  type FrameworkScope,
} from "./framework-install.ts";
import type { JsonObject } from "./options.ts";
import { renderPackage } from "./render.ts";
import { newestFirst, type PackageDefinition } from "./universe.ts";

/**
 * What installing from the catalog does, shared by Cosmos's routes and the UI's Catalog page:
 * finding a package in the cluster's repositories (refreshing stale ones), and installing it
 * through the same steps as `POST /v2/apps` or `POST /v1/jobs`.
 */

/**
 * Where an operation runs: the cluster's object, its commands acting for the caller (so an
 * install is audited as the `POST /v2/apps` it amounts to), the Worker's configuration, and
 * `waitUntil` for work after the answer.
 */
export interface PackageScope {
  stub: ReturnType<typeof clusterStub>;
  acting: ActingCommands;
  env: Env;
  waitUntil(promise: Promise<unknown>): void;
  /** Where a framework package's service account is created (see framework-install.ts). */
  framework: FrameworkScope;
}

/** Fetch bounds and the refresh interval, from the Worker's configuration (wrangler.toml `vars`). */
export function repositoryLimits(env: Env): FetchLimits & { refreshMs: number } {
  const num = (v: string | undefined, d: number) => (v !== undefined && Number.isFinite(Number(v)) ? Number(v) : d);
  return {
    timeoutMs: num(env.PACKAGE_REPO_TIMEOUT_MS, 10_000),
    maxBytes: num(env.PACKAGE_REPO_MAX_BYTES, 8 * 1024 * 1024),
    refreshMs: num(env.PACKAGE_REPO_REFRESH_MS, 600_000),
  };
}

/**
 * Refreshes, after the response, every fetched repository last checked longer ago than the
 * refresh interval (a conditional GET with its ETag). Refreshing on use, not on a timer, keeps
 * an idle cluster's object asleep; the claim makes concurrent requests start one fetch.
 */
export async function refreshStale(scope: PackageScope): Promise<void> {
  const limits = repositoryLimits(scope.env);
  const now = Date.now();
  for (const repo of await scope.stub.packageRepositories()) {
    if (repo.uri === BUILTIN_REPOSITORY.uri || (repo.checkedAt ?? 0) >= now - limits.refreshMs) continue;
    if (!(await scope.stub.packageRefreshClaim(repo.name, now - limits.refreshMs))) continue;
    const refresh = fetchRepository(repo.uri, repo.etag, limits).then(
      (r) => scope.stub.packageRefreshed(repo.name, repo.uri, "notModified" in r ? r : { packages: r.packages, etag: r.etag }),
      (err: unknown) => scope.stub.packageRefreshed(repo.name, repo.uri, { error: err instanceof Error ? err.message : String(err) }),
    );
    scope.waitUntil(refresh);
  }
}

/** A package's versions from the first repository that has it; the object sends them as JSON text (they hold free-form JSON). */
export async function findPackage(scope: PackageScope, name: string): Promise<PackageSource | undefined> {
  const text = await scope.stub.packageFind(name);
  return text === null ? undefined : (JSON.parse(text) as PackageSource);
}

/** The package (a version of it, or its newest) and the URI of the repository it came from. */
export async function resolvePackage(
  scope: PackageScope,
  name: string,
  version?: string,
): Promise<{ pkg: PackageDefinition; source: string; versions: PackageDefinition[] }> {
  await refreshStale(scope);
  const found = await findPackage(scope, name);
  if (!found) throw new CosmosError("PackageNotFound", `Package [${name}] not found`, { packageName: name });
  const pkg = version === undefined ? newestFirst(found.versions)[0] : found.versions.find((v) => v.version === version);
  if (!pkg) throw new CosmosError("VersionNotFound", `Version [${version}] of package [${name}] not found`, { packageName: name, packageVersion: version });
  return { pkg, source: found.repository.uri, versions: newestFirst(found.versions) };
}

/** A conflict on create means the id is taken: Cosmos's 409 PackageAlreadyInstalled. */
async function creating<T>(id: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (err instanceof ApiError && err.code === "conflict") {
      throw new CosmosError("PackageAlreadyInstalled", `Package is already installed: [${id}] exists (give another appId).`, {
        appId: id,
        reason: err.message,
      });
    }
    throw err;
  }
}

const summary = (details: { path: string; errors: string[] }[]) => details.map((d) => `${d.path}: ${d.errors.join(", ")}`).join("; ");

function parseApp(pkg: PackageDefinition, app: JsonObject) {
  const parsed = parseAppDefinition(app);
  if (!parsed.ok)
    throw new CosmosError("InvalidMarathonApp", `The app rendered from ${pkg.name} ${pkg.version} is not valid: ${summary(parsed.details)}`, {
      details: parsed.details,
    });
  return parsed.app;
}

async function createApp(scope: PackageScope, pkg: PackageDefinition, app: JsonObject): Promise<string> {
  const parsed = parseApp(pkg, app);
  const created = await creating(parsed.id, async () => unwrap(await scope.acting.marathonCreate(parsed)));
  return created.app?.id ?? parsed.id;
}

/**
 * A framework package's app: validated first (with a placeholder secret), then its service
 * account is created and the app with the real one; if the app is refused, the account is
 * revoked again, so a failed install leaves no credential behind.
 */
async function createFrameworkApp(scope: PackageScope, pkg: PackageDefinition, app: JsonObject, options: JsonObject): Promise<string> {
  const frameworkId = `${crypto.randomUUID()}-0000`;
  // The app id does not depend on what withFramework adds: validate with placeholders, then build it for real.
  const appId = parseApp(pkg, withFramework(app, scope.framework, PLACEHOLDER, "/pending", frameworkId)).id;
  const principal = principalFor(options, appId);
  const account = await createSchedulerAccount(scope.framework, principal, appId);
  try {
    await storeSchedulerSecret(scope.acting, appId, account.secret);
    return await createApp(scope, pkg, withFramework(app, scope.framework, account, appId, frameworkId));
  } catch (err) {
    await forgetSchedulerSecret(scope.acting, appId);
    await revokeSchedulerAccount(scope.framework, account.id);
    throw err;
  }
}

/** A job-style package: the job is created as `POST /v1/jobs` creates it (the job schema, then the object's jobCreate). */
async function createJob(scope: PackageScope, pkg: PackageDefinition, job: JsonObject): Promise<string> {
  const parsed = parseJob(job);
  if (!parsed.ok)
    throw new CosmosError("InvalidMetronomeJob", `The job rendered from ${pkg.name} ${pkg.version} is not valid: ${summary(parsed.details)}`, {
      details: parsed.details,
    });
  await creating(parsed.spec.id, async () => unwrap(await scope.acting.jobCreate(parsed.spec, parsed.schedules)));
  return parsed.spec.id;
}

export interface InstallRequest {
  packageName: string;
  packageVersion?: string;
  options?: JsonObject;
  appId?: string;
}

/**
 * Renders a package and creates its app (or job) through the same checks and object call as
 * the Marathon (or Metronome) API: anything they would refuse is refused here, with its paths,
 * and nothing is installed. `appId` is undefined for a package without a template.
 */
export async function installPackage(scope: PackageScope, req: InstallRequest): Promise<{ pkg: PackageDefinition; appId?: string }> {
  const { pkg, source } = await resolvePackage(scope, req.packageName, req.packageVersion);
  const { app, kind, resolvedOptions } = await renderPackage(pkg, source, req.options ?? {}, req.appId);
  if (!app) return { pkg };
  if (kind === "job") return { pkg, appId: await createJob(scope, pkg, app) };
  return { pkg, appId: pkg.framework === true ? await createFrameworkApp(scope, pkg, app, resolvedOptions) : await createApp(scope, pkg, app) };
}
