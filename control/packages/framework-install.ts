import type { AccountsDb } from "../accounts/db.ts";
import { createServiceAccount, revokeServiceAccount } from "../accounts/service-accounts.ts";
import type { ActingCommands } from "../cluster-stub.ts";
import { failedWith, unwrap } from "../operations/outcome.ts";
import { ApiError } from "../errors.ts";
import { quotaLimit } from "../quotas.ts";
import { CosmosError } from "./errors.ts";
import type { JsonObject } from "./options.ts";

/**
 * What installing a framework package (`framework: true`) adds to an app install. Its
 * scheduler must authenticate to the v1 scheduler API, and DC/OS Enterprise users create a
 * service account, store its secret in the secret store and pass both as
 * `service.service_account` and `service.service_account_secret`; the installer does that
 * itself: it creates the account (principal `service.service_account`, or
 * `<service name>-principal`), stores its secret at `<app id>/service-account-secret` in the
 * cluster's secret store (control/cluster/secrets.ts), and gives it to the scheduler by
 * reference (the app's `secrets` and an env `{"secret": ...}`), so the app definition members
 * read holds no credential. Uninstall revokes the account and deletes the secret. It also
 * assigns the framework id the scheduler subscribes with, so a restarted scheduler fails over
 * to its running tasks, and uninstall can tear the framework (and its tasks) down by that id.
 */

/** The environment a framework package's scheduler is given. */
export const SCHEDULER_ENV = {
  url: "DCX_SCHEDULER_URL",
  principal: "DCX_SERVICE_PRINCIPAL",
  secret: "DCX_SERVICE_SECRET",
  frameworkId: "DCX_FRAMEWORK_ID",
} as const;

/** Labels (no secret in them) that let uninstall find the account and the framework. */
export const ACCOUNT_LABEL = "DCX_PACKAGE_SERVICE_ACCOUNT";
export const FRAMEWORK_ID_LABEL = "DCX_PACKAGE_FRAMEWORK_ID";

/** The option naming the scheduler's principal, as DC/OS packages name it. */
export const ACCOUNT_OPTION = "service.service_account";

/** Where a framework install creates its account: the accounts database, the cluster, the acting user, the API's origin. */
export interface FrameworkScope {
  db: AccountsDb;
  clusterId: string;
  userId: string;
  /** The URL the cluster's API is reached at (`https://host/c/<cluster>`), which the scheduler calls. */
  clusterUrl: string;
  quota: number;
}

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** The principal for an app: `service.service_account` if given, else `<app id, / as ->-principal`. */
export function principalFor(options: JsonObject, appId: string): string {
  const service = isObject(options.service) ? options.service : {};
  const given = typeof service.service_account === "string" ? service.service_account : "";
  return given !== "" ? given : `${appId.replace(/^\//, "").replaceAll("/", "-")}-principal`;
}

/** The app's name for the account's secret in its `secrets`. */
export const SECRET_NAME = "serviceAccountSecret";

/** Where the installer keeps the account's secret in the cluster's store: `<app id>/service-account-secret`. */
export function secretPathFor(appId: string): string {
  return `${appId.replace(/^\//, "")}/service-account-secret`;
}

/** The app with the scheduler's URL, principal, secret (by reference) and framework id in its env, and the account's labels. */
export function withFramework(
  app: JsonObject,
  scope: FrameworkScope,
  account: { id: string; principal: string },
  appId: string,
  frameworkId: string,
): JsonObject {
  const env = isObject(app.env) ? app.env : {};
  const secrets = isObject(app.secrets) ? app.secrets : {};
  const labels = isObject(app.labels) ? app.labels : {};
  return {
    ...app,
    env: {
      ...env,
      [SCHEDULER_ENV.url]: `${scope.clusterUrl}/api/v1/scheduler`,
      [SCHEDULER_ENV.principal]: account.principal,
      [SCHEDULER_ENV.secret]: { secret: SECRET_NAME },
      [SCHEDULER_ENV.frameworkId]: frameworkId,
    },
    secrets: { ...secrets, [SECRET_NAME]: { source: secretPathFor(appId) } },
    labels: { ...labels, [ACCOUNT_LABEL]: account.id, [FRAMEWORK_ID_LABEL]: frameworkId },
  };
}

/** What a Mesos principal may be (as `POST /clusters/:id/service-accounts` checks it). */
const PRINCIPAL = /^[A-Za-z0-9._@-]{1,128}$/;

/**
 * A re-rendered framework app (`service/update`) keeps what the install gave it: the same
 * account, secret reference and framework id, so the new scheduler fails over to the running framework.
 */
export function keepFramework(
  app: JsonObject,
  previous: { env?: Record<string, unknown>; secrets?: Record<string, unknown>; labels?: Record<string, string> },
): JsonObject {
  if (previous.labels?.[FRAMEWORK_ID_LABEL] === undefined) return app;
  const carried = (source: Record<string, unknown> | undefined, keys: readonly string[]) =>
    Object.fromEntries(keys.flatMap((k) => (source?.[k] === undefined ? [] : [[k, source[k]]])));
  const env = isObject(app.env) ? app.env : {};
  const secrets = isObject(app.secrets) ? app.secrets : {};
  const labels = isObject(app.labels) ? app.labels : {};
  const keptSecrets = carried(previous.secrets, [SECRET_NAME]);
  return {
    ...app,
    env: { ...env, ...carried(previous.env, Object.values(SCHEDULER_ENV)) },
    ...(Object.keys(keptSecrets).length > 0 ? { secrets: { ...secrets, ...keptSecrets } } : {}),
    labels: { ...labels, ...carried(previous.labels, [ACCOUNT_LABEL, FRAMEWORK_ID_LABEL]) },
  } as JsonObject;
}

/** A placeholder account, so the app is validated before any account exists. */
export const PLACEHOLDER = { id: "pending", principal: "pending" };

/** Creates the scheduler's service account; a principal already in use is refused naming the option. */
export async function createSchedulerAccount(
  scope: FrameworkScope,
  principal: string,
  appId: string,
): Promise<{ id: string; principal: string; secret: string }> {
  if (!PRINCIPAL.test(principal)) {
    const message = "must be 1 to 128 letters, digits and . _ @ -";
    throw new CosmosError(
      "JsonSchemaMismatch",
      `Options do not make a valid service account: /service/service_account: ${message} (got '${principal.slice(0, 140)}').`,
      { errors: [{ path: "/service/service_account", message }] },
    );
  }
  try {
    const { info, secret } = await createServiceAccount(
      scope.db,
      { clusterId: scope.clusterId, principal, description: `scheduler of the package installed as ${appId}`, createdBy: scope.userId },
      scope.quota,
    );
    return { id: info.id, principal, secret };
  } catch (err) {
    if (err instanceof ApiError && err.code === "conflict") {
      throw new CosmosError("ServiceAccountAlreadyExists", `${err.message} Give another service.service_account, or revoke that account.`, {
        errors: [{ path: "/service/service_account", errors: [err.message] }],
      });
    }
    throw err;
  }
}

/** The framework scope of a request to `url` by `userId` on `clusterId`: the scheduler calls back the same origin. */
export function frameworkScope(env: Env, db: AccountsDb, clusterId: string, userId: string, url: string): FrameworkScope {
  return { db, clusterId, userId, clusterUrl: `${new URL(url).origin}/c/${clusterId}`, quota: quotaLimit(env, "serviceAccounts") };
}

/** Revokes the account an install created; one already gone is fine (uninstall may be retried). */
export async function revokeSchedulerAccount(scope: FrameworkScope, accountId: string): Promise<void> {
  try {
    await revokeServiceAccount(scope.db, scope.clusterId, accountId, scope.userId);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "not_found")) throw err;
  }
}

/**
 * Tears down the framework an install registered (Cosmos's uninstall of a framework package):
 * its tasks are killed. One that never subscribed, or is already removed, is fine.
 */
export async function tearDownFramework(acting: ActingCommands, frameworkId: string): Promise<void> {
  try {
    unwrap(await acting.teardownFramework(frameworkId));
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "not_found")) throw err;
  }
}

/** Stores the account's secret for the app; one left by an earlier, failed install of the same app id is replaced. */
export async function storeSchedulerSecret(acting: ActingCommands, appId: string, secret: string): Promise<void> {
  const path = secretPathFor(appId);
  const created = await acting.secretPut(path, secret, "create");
  if (failedWith(created, "conflict")) unwrap(await acting.secretPut(path, secret, "update"));
  else unwrap(created);
}

/** Deletes the secret an install stored; one already gone is fine (uninstall may be retried). */
export async function forgetSchedulerSecret(acting: ActingCommands, appId: string): Promise<void> {
  try {
    unwrap(await acting.secretDelete(secretPathFor(appId)));
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "not_found")) throw err;
  }
}
