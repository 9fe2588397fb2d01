import { asc, count, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { ClusterDb } from "./db.ts";
import type { App } from "./frameworks/marathon/app-definition.ts";
import { SecretPath } from "./frameworks/marathon/app-fields.ts";
import { listApps } from "./frameworks/marathon/apps.ts";
import { secrets } from "./schema.ts";

/**
 * The cluster's secret store (DC/OS's secrets service, one store named `default`). A secret is
 * written over the API and read only by the master when it launches a task whose app names it
 * (`secrets: {"<name>": {"source": "<path>"}}`, `env: {"VAR": {"secret": "<name>"}}`): no route
 * returns a value, so the app definitions members read hold references, not credentials.
 * A secret an app names cannot be deleted (409 naming the apps), and an app cannot name a
 * secret that does not exist (422 at `/secrets/<name>/source`): a launch always finds its values.
 */

/** A value is at most 64 KiB (as Kubernetes' 1 MiB and DC/OS's are more than an env var can carry). */
export const MAX_SECRET_BYTES = 65_536;
/** Secrets per cluster. */
export const MAX_SECRETS = 1_000;

/** The body of a create or change (`PUT`/`PATCH`): the API's and the UI's form's. */
export const SecretValue = z.strictObject({
  value: z.string().refine((v) => new TextEncoder().encode(v).length <= MAX_SECRET_BYTES, `must be at most ${MAX_SECRET_BYTES} bytes`),
});

/** A new secret as the UI's form gives it: its path beside its value. */
export const NewSecret = SecretValue.extend({ path: SecretPath });

/** What the API shows of a secret: never its value. */
export interface SecretInfo {
  path: string;
  createdAt: number;
  updatedAt: number;
}

/** Every secret's path and times, by path. */
export function listSecrets(db: ClusterDb): SecretInfo[] {
  return db.select({ path: secrets.path, createdAt: secrets.createdAt, updatedAt: secrets.updatedAt }).from(secrets).orderBy(asc(secrets.path)).all();
}

/** Why a change of the store was refused: the status and a message naming the problem. */
export interface SecretRefusal {
  code: "conflict" | "not_found";
  message: string;
}

const refused = (code: SecretRefusal["code"], message: string): { refused: SecretRefusal } => ({ refused: { code, message } });

/** Stores a new secret; an existing path is a conflict (DC/OS's PUT), and so is a full store. */
export function createSecret(db: ClusterDb, path: string, value: string, now: number): SecretInfo | { refused: SecretRefusal } {
  if (db.select({ path: secrets.path }).from(secrets).where(eq(secrets.path, path)).get()) {
    return refused("conflict", `A secret already exists at '${path}': change it with PATCH, or delete it first.`);
  }
  if ((db.select({ n: count() }).from(secrets).get()?.n ?? 0) >= MAX_SECRETS)
    return refused("conflict", `The cluster holds ${MAX_SECRETS} secrets, its limit: delete one first.`);
  db.insert(secrets).values({ path, value, createdAt: now, updatedAt: now }).run();
  return { path, createdAt: now, updatedAt: now };
}

/** Replaces a secret's value (DC/OS's PATCH); running tasks keep theirs, new launches get the new one. */
export function updateSecret(db: ClusterDb, path: string, value: string, now: number): SecretInfo | { refused: SecretRefusal } {
  const row = db.update(secrets).set({ value, updatedAt: now }).where(eq(secrets.path, path)).returning({ createdAt: secrets.createdAt }).get();
  if (!row) return refused("not_found", `No secret at '${path}'.`);
  return { path, createdAt: row.createdAt, updatedAt: now };
}

/** Deletes a secret no app names; one in use is a conflict naming the apps. */
export function deleteSecret(db: ClusterDb, path: string): SecretInfo | { refused: SecretRefusal } {
  const users = listApps(db)
    .filter((a) => sourcesOf(a.app).includes(path))
    .map((a) => a.id);
  if (users.length > 0) return refused("conflict", `The secret '${path}' is in use by ${users.join(", ")}: remove it from their secrets first.`);
  const gone = db
    .delete(secrets)
    .where(eq(secrets.path, path))
    .returning({ path: secrets.path, createdAt: secrets.createdAt, updatedAt: secrets.updatedAt })
    .get();
  return gone ?? refused("not_found", `No secret at '${path}'.`);
}

/** The store paths an app's `secrets` name. */
export function sourcesOf(app: Pick<App, "secrets">): string[] {
  return Object.values(app.secrets ?? {}).map((s) => s.source);
}

/** The stored values of the paths an app's secrets name, by path; nothing is read for an app without secrets. */
function storedValues(db: ClusterDb, app: Pick<App, "secrets">): Map<string, string> {
  const paths = sourcesOf(app);
  if (paths.length === 0) return new Map();
  const rows = db.select({ path: secrets.path, value: secrets.value }).from(secrets).where(inArray(secrets.path, paths)).all();
  return new Map(rows.map((r) => [r.path, r.value]));
}

/** A 422 for each of the app's secrets whose source is not in the store. */
export function missingSecretDetails(db: ClusterDb, app: Pick<App, "secrets">): { path: string; errors: string[] }[] {
  const stored = storedValues(db, app);
  return Object.entries(app.secrets ?? {})
    .filter(([, s]) => !stored.has(s.source))
    .map(([name, s]) => ({
      path: `/secrets/${name}/source`,
      errors: [`no secret at '${s.source}' in the cluster's store: create it first (PUT /c/<cluster>/secrets/v1/secret/default/${s.source})`],
    }));
}

/** The values of an app's secrets by their name in the app, for its task's environment. */
export function secretValuesFor(db: ClusterDb, app: Pick<App, "secrets">): Map<string, string> {
  const stored = storedValues(db, app);
  return new Map(
    Object.entries(app.secrets ?? {}).flatMap(([name, s]) => {
      const value = stored.get(s.source);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}
