import { parseAppDefinition } from "../cluster/frameworks/marathon/app-definition.ts";
import { unwrap } from "../operations/outcome.ts";
import { CosmosError } from "./errors.ts";
import { keepFramework } from "./framework-install.ts";
import { installedPackages, type Installed } from "./installed.ts";
import { findPackage, type PackageScope } from "./operations.ts";
import { deepMerge, schemaDefaults, type JsonObject } from "./options.ts";
import { renderPackage } from "./render.ts";
import { newestFirst, type PackageDefinition } from "./universe.ts";

/**
 * Cosmos's `/service/describe` and `/service/update` (reached as `/cosmos/service/...`): an
 * installed package changed in place, to new options or another version, instead of an
 * uninstall and install that would tear the service down. What is installed, and with which
 * options, is read from the app's labels; the new app replaces it as `PUT /v2/apps/{id}` does.
 */

/** The installed package an app id names; only apps (a job-style package is reinstalled instead). */
async function installedApp(scope: PackageScope, appId: string): Promise<Installed & { definition: Record<string, unknown> }> {
  const [found] = await installedPackages(scope.stub, { appId });
  if (found?.kind !== "app" || !found.definition)
    throw new CosmosError("MarathonAppNotFound", `No app installed from a package has the id [${appId}].`, { appId });
  return { ...found, definition: found.definition };
}

const asPackage = (definition: Record<string, unknown>) => definition as unknown as PackageDefinition;

/**
 * The versions an installed package may move to, as Cosmos decides: a newer version that lists
 * this one (or `*`) in `upgradesFrom`; an older one that this one lists (or `*`) in `downgradesTo`.
 */
function moves(current: PackageDefinition, versions: PackageDefinition[]): { upgradesTo: string[]; downgradesTo: string[] } {
  const allows = (list: string[] | undefined, version: string) => (list ?? []).some((v) => v === "*" || v === version);
  return {
    upgradesTo: newestFirst(versions)
      .filter((v) => v.releaseVersion > current.releaseVersion && allows(v.upgradesFrom, current.version))
      .map((v) => v.version),
    downgradesTo: newestFirst(versions)
      .filter((v) => v.releaseVersion < current.releaseVersion && allows(current.downgradesTo, v.version))
      .map((v) => v.version),
  };
}

/** `service/describe`: the installed package, where it may move, and its options. */
export async function describeService(scope: PackageScope, appId: string) {
  const installed = await installedApp(scope, appId);
  const current = asPackage(installed.definition);
  const versions = (await findPackage(scope, installed.packageName))?.versions ?? [];
  const userProvidedOptions = installed.userOptions ?? {};
  const resolvedOptions = current.config ? deepMerge(schemaDefaults(current.config), userProvidedOptions) : {};
  return { package: current, ...moves(current, versions), resolvedOptions, userProvidedOptions };
}

export interface UpdateRequest {
  appId: string;
  packageVersion?: string;
  options?: JsonObject;
  /** True: the options replace the stored ones; false: they are merged over them. */
  replace: boolean;
}

/** `service/update`: renders the package (this or another allowed version) with the new options and replaces the app. */
export async function updateService(scope: PackageScope, req: UpdateRequest) {
  const installed = await installedApp(scope, req.appId);
  const current = asPackage(installed.definition);
  const found = await findPackage(scope, installed.packageName);
  const version = req.packageVersion ?? current.version;
  const target = version === current.version ? current : found?.versions.find((v) => v.version === version);
  if (!target)
    throw new CosmosError("VersionNotFound", `Version [${version}] of package [${installed.packageName}] not found`, {
      packageName: installed.packageName,
      packageVersion: version,
    });
  const allowed = moves(current, found?.versions ?? []);
  if (target !== current && ![...allowed.upgradesTo, ...allowed.downgradesTo].includes(version)) {
    throw new CosmosError(
      "VersionUpgradeNotSupportedInOpen",
      `${installed.packageName} ${current.version} cannot move to ${version} (upgrades to: ${allowed.upgradesTo.join(", ") || "none"}; downgrades to: ${allowed.downgradesTo.join(", ") || "none"}).`,
      allowed,
    );
  }
  const options = req.replace ? (req.options ?? {}) : deepMerge(installed.userOptions ?? {}, req.options ?? {});
  const source = target === current ? (installed.source ?? found?.repository.uri ?? "") : (found?.repository.uri ?? "");
  const { app, resolvedOptions } = await renderPackage(target, source, options, installed.appId);
  const previous = await scope.stub.marathonApp(installed.appId, []);
  const parsed = parseAppDefinition(app && previous ? keepFramework(app, previous) : app);
  if (!parsed.ok)
    throw new CosmosError("InvalidMarathonApp", `The app rendered from ${target.name} ${target.version} is not valid.`, { details: parsed.details });
  // Forced, as a deployment still in progress (an install that never got healthy) is often what the update fixes.
  const result = unwrap(await scope.acting.marathonReplace(parsed.app, true));
  return { package: target, resolvedOptions, marathonDeploymentId: result.deploymentId };
}
