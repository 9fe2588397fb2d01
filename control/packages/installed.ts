import { normalizeAppId } from "../cluster/frameworks/marathon/app-definition.ts";
import { ApiError } from "../errors.ts";
import { CosmosError } from "./errors.ts";
import { decodeDefinition, decodeOptions, PACKAGE_DEFINITION, PACKAGE_NAME, PACKAGE_OPTIONS, PACKAGE_SOURCE, PACKAGE_VERSION } from "./labels.ts";
import { ACCOUNT_LABEL, FRAMEWORK_ID_LABEL, forgetSchedulerSecret, revokeSchedulerAccount, tearDownFramework } from "./framework-install.ts";
import type { PackageScope } from "./operations.ts";
import { unwrap } from "../operations/outcome.ts";

type ClusterStub = PackageScope["stub"];

/**
 * What is installed, read from the apps' `DCOS_PACKAGE_*` labels alone (as Cosmos's
 * ListHandler): no second record can disagree with the running apps, and a package that left
 * its repository still lists.
 */

export interface Installed {
  /** The app's id, or a job-style package's job id. */
  appId: string;
  kind: "app" | "job";
  packageName: string;
  packageVersion: string;
  /** The definition stored in the app's label (undefined when unreadable). */
  definition?: Record<string, unknown>;
  /** The repository it came from (`DCOS_PACKAGE_SOURCE`) and the options the user gave (`DCOS_PACKAGE_OPTIONS`). */
  source?: string;
  userOptions?: Record<string, unknown>;
  /** A framework package's framework id and service account (labels the installer set). */
  frameworkId?: string;
  accountId?: string;
}

/** Fields of a definition that `list` shows as `packageDefinition` (Cosmos's PackageDetails). */
const DETAILS = [
  "packagingVersion",
  "name",
  "version",
  "releaseVersion",
  "maintainer",
  "description",
  "tags",
  "selected",
  "scm",
  "website",
  "framework",
  "preInstallNotes",
  "postInstallNotes",
  "postUninstallNotes",
  "licenses",
];

/** The part of a job read here; the RPC type of `jobs()` is `never`, since its JSON is open-ended (`Record<string, unknown>`). */
type JobLabels = { id: string; labels: Record<string, string> };

/** Every app (and job) carrying `DCOS_PACKAGE_NAME`, filtered by package name and app id, sorted by (name, appId). */
export async function installedPackages(stub: ClusterStub, filter: { packageName?: string; appId?: string } = {}): Promise<Installed[]> {
  const appId = filter.appId === undefined ? undefined : safeAppId(filter.appId);
  const labelled = [
    ...(await stub.marathonApps([])).map((a) => ({ id: a.id, kind: "app" as const, labels: a.labels ?? {} })),
    ...((await stub.jobs([])) as unknown as JobLabels[]).map((j) => ({ id: j.id, kind: "job" as const, labels: j.labels })),
  ];
  const found: Installed[] = [];
  for (const { id, kind, labels } of labelled) {
    const name = labels[PACKAGE_NAME];
    const idMatches = filter.appId === undefined || (kind === "app" ? id === appId : id === filter.appId.replace(/^\//, ""));
    if (!name || (filter.packageName !== undefined && name !== filter.packageName) || !idMatches) continue;
    found.push({
      appId: id,
      kind,
      packageName: name,
      packageVersion: labels[PACKAGE_VERSION] ?? "",
      definition: await decodeDefinition(labels[PACKAGE_DEFINITION]),
      source: labels[PACKAGE_SOURCE],
      userOptions: decodeOptions(labels[PACKAGE_OPTIONS]),
      frameworkId: labels[FRAMEWORK_ID_LABEL],
      accountId: labels[ACCOUNT_LABEL],
    });
  }
  return found.sort((a, b) => a.packageName.localeCompare(b.packageName) || a.appId.localeCompare(b.appId));
}

function safeAppId(id: string): string | undefined {
  // A job id (`ops.backup`) is not an app id; it is matched as given.
  if (!id.startsWith("/") && id.includes(".")) return undefined;
  try {
    return normalizeAppId(id);
  } catch (err) {
    throw new CosmosError("MalformedRequest", `appId '${id}' is not a valid app id: ${err instanceof Error ? err.message : String(err)}`, {
      errors: [{ path: "/appId", errors: [String(err)] }],
    });
  }
}

/** An installed package as `list-response` v1 shows it. */
export function listEntry(i: Installed) {
  const def = i.definition ?? { name: i.packageName, version: i.packageVersion };
  const packageDefinition = Object.fromEntries(DETAILS.flatMap((k) => (def[k] === undefined ? [] : [[k, def[k]]])));
  const resource = def.resource;
  return { appId: i.appId, packageInformation: { packageDefinition, ...(resource ? { resourceDefinition: resource } : {}) } };
}

/**
 * Uninstalls a package: the one app installed under its name, the one with `appId`, or with
 * `all` every one. Several matches without `all` is Cosmos's AmbiguousAppId; the apps are
 * deleted as `DELETE /v2/apps/{id}?force=true` does (an install still deploying is stopped too),
 * a job-style package's job as `DELETE /v1/jobs/{id}?stopCurrentJobRuns=true`. A framework
 * package's framework is torn down first (its tasks killed) and its service account revoked.
 */
export async function uninstall(scope: Pick<PackageScope, "stub" | "acting" | "framework">, req: { packageName: string; appId?: string; all?: boolean }) {
  const matches = await installedPackages(scope.stub, { packageName: req.packageName, appId: req.appId });
  if (matches.length === 0) {
    const where = req.appId !== undefined ? ` with appId '${req.appId}'` : "";
    throw new CosmosError("PackageNotInstalled", `Package [${req.packageName}]${where} is not installed.`, {
      packageName: req.packageName,
      ...(req.appId ? { appId: req.appId } : {}),
    });
  }
  if (matches.length > 1 && !req.all) {
    throw new CosmosError(
      "AmbiguousAppId",
      `Multiple apps named [${matches.map((m) => m.appId).join(", ")}] are installed for package [${req.packageName}]; give appId, or all: true.`,
      {
        packageName: req.packageName,
        appIds: matches.map((m) => m.appId),
      },
    );
  }
  const results = [];
  for (const m of matches) {
    // A framework package: its framework (and so its tasks) and its account go first, while the
    // app still records them, so an uninstall that fails half-way can be run again to finish.
    if (m.frameworkId !== undefined) await tearDownFramework(scope.acting, m.frameworkId);
    if (m.accountId !== undefined) await revokeSchedulerAccount(scope.framework, m.accountId);
    // An app (or job) already gone, by a concurrent uninstall or a delete, counts as uninstalled.
    try {
      if (m.kind === "job") unwrap(await scope.acting.jobDelete(m.appId, true));
      else unwrap(await scope.acting.marathonDelete(m.appId, true));
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "not_found")) throw err;
    }
    // Once the app that names it is gone (the store refuses before).
    if (m.accountId !== undefined) await forgetSchedulerSecret(scope.acting, m.appId);
    const notes = m.definition?.postUninstallNotes;
    results.push({
      packageName: m.packageName,
      appId: m.appId,
      packageVersion: m.packageVersion,
      ...(typeof notes === "string" ? { postUninstallNotes: notes } : {}),
    });
  }
  return { results };
}
