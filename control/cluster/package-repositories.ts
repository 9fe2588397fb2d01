import { and, asc, eq, gte, sql } from "drizzle-orm";
import { BUILTIN_PACKAGES, BUILTIN_REPOSITORY } from "../packages/catalog/index.ts";
import type { PackageDefinition } from "../packages/universe.ts";
import type { ClusterDb } from "./db.ts";
import { packageRepositories, packageVersions } from "./schema.ts";

/**
 * The cluster's package repositories and the packages fetched from them. The Worker fetches
 * and validates a repository; this module only stores what it was given, in one transaction
 * each, so a repository is either wholly replaced or untouched. The built-in repository's
 * packages are bundled in the Worker and never stored: its row only places it in the order.
 */

export interface RepositoryRecord {
  name: string;
  uri: string;
  etag: string | null;
  fetchedAt: number | null;
  checkedAt: number | null;
  lastError: string | null;
}

/** A repository's packages as fetched: new content, or "unchanged" (HTTP 304), or why the fetch failed. */
export type FetchedRepository = { packages: PackageDefinition[]; etag: string | null } | { notModified: true } | { error: string };

/** Where a package was found: the repository (the first in order that has the name) and its versions. */
export interface PackageSource {
  repository: { name: string; uri: string };
  versions: PackageDefinition[];
}

/** Why a repository change was refused (Cosmos's error types, and DCX's bound on their number). */
export type RepositoryRefusal = { refused: "RepositoryAlreadyPresent" | "RepositoryNotPresent" | "RepositoryLimit"; message: string };

/** A cluster keeps at most this many repositories (each up to the fetch bound in size). */
export const MAX_REPOSITORIES = 16;

const isBuiltin = (uri: string) => uri === BUILTIN_REPOSITORY.uri;

/** Every repository, in lookup order. */
export function listRepositories(db: ClusterDb): RepositoryRecord[] {
  return db
    .select({
      name: packageRepositories.name,
      uri: packageRepositories.uri,
      etag: packageRepositories.etag,
      fetchedAt: packageRepositories.fetchedAt,
      checkedAt: packageRepositories.checkedAt,
      lastError: packageRepositories.lastError,
    })
    .from(packageRepositories)
    .orderBy(asc(packageRepositories.position))
    .all();
}

function storeVersions(db: ClusterDb, repository: string, packages: PackageDefinition[]): void {
  db.delete(packageVersions).where(eq(packageVersions.repository, repository)).run();
  for (const p of packages) {
    db.insert(packageVersions).values({ repository, name: p.name, version: p.version, releaseVersion: p.releaseVersion, definition: p }).run();
  }
}

/**
 * Adds a repository at `index` (0 is first; past the end or absent is last) with its packages.
 * A name or URI already present is refused and nothing changes.
 */
export function addRepository(
  db: ClusterDb,
  repo: { name: string; uri: string; index?: number },
  packages: PackageDefinition[],
  etag: string | null,
  now: number,
): RepositoryRefusal | RepositoryRecord[] {
  const clash = listRepositories(db).find((r) => r.name === repo.name || r.uri === repo.uri);
  if (clash) {
    const what = clash.name === repo.name ? `name '${repo.name}'` : `URI '${repo.uri}'`;
    return { refused: "RepositoryAlreadyPresent", message: `A repository with the ${what} is already present (as '${clash.name}').` };
  }
  const count = listRepositories(db).length;
  if (count >= MAX_REPOSITORIES) return { refused: "RepositoryLimit", message: `A cluster has at most ${MAX_REPOSITORIES} repositories; remove one first.` };
  const position = Math.min(repo.index ?? count, count);
  db.update(packageRepositories)
    .set({ position: sql`${packageRepositories.position} + 1` })
    .where(gte(packageRepositories.position, position))
    .run();
  const fetched = isBuiltin(repo.uri) ? {} : { etag, fetchedAt: now, checkedAt: now };
  db.insert(packageRepositories)
    .values({ name: repo.name, uri: repo.uri, position, ...fetched })
    .run();
  if (!isBuiltin(repo.uri)) storeVersions(db, repo.name, packages);
  return listRepositories(db);
}

/** Removes the repository with this name (or, without a name, this URI) and its packages. */
export function deleteRepository(db: ClusterDb, key: { name?: string; uri?: string }): RepositoryRefusal | RepositoryRecord[] {
  const found = listRepositories(db).find((r) => (key.name !== undefined ? r.name === key.name : r.uri === key.uri));
  if (!found) return { refused: "RepositoryNotPresent", message: `No repository named ${key.name !== undefined ? `'${key.name}'` : `with URI '${key.uri}'`}.` };
  db.delete(packageRepositories).where(eq(packageRepositories.name, found.name)).run();
  db.delete(packageVersions).where(eq(packageVersions.repository, found.name)).run();
  // Positions stay dense, so an add's `index` means the same as Cosmos's.
  listRepositories(db).forEach((r, i) => db.update(packageRepositories).set({ position: i }).where(eq(packageRepositories.name, r.name)).run());
  return listRepositories(db);
}

/**
 * Claims the refresh of a repository last checked before `staleBefore`: marks it checked now
 * and answers true, so concurrent requests start one refresh, not one each.
 */
export function claimRefresh(db: ClusterDb, name: string, staleBefore: number, now: number): boolean {
  const row = db
    .update(packageRepositories)
    .set({ checkedAt: now })
    .where(and(eq(packageRepositories.name, name), sql`coalesce(${packageRepositories.checkedAt}, 0) < ${staleBefore}`))
    .returning({ name: packageRepositories.name })
    .get();
  return row !== undefined;
}

/**
 * Records a refresh. Applied only if the repository still has the URI that was fetched (it may
 * have been deleted and re-added meanwhile). A failed refresh keeps the stored packages.
 */
export function recordRefresh(db: ClusterDb, name: string, uri: string, result: FetchedRepository, now: number): void {
  const current = db.select().from(packageRepositories).where(eq(packageRepositories.name, name)).get();
  if (!current || current.uri !== uri) return;
  const where = eq(packageRepositories.name, name);
  if ("error" in result) db.update(packageRepositories).set({ lastError: result.error }).where(where).run();
  else if ("notModified" in result) db.update(packageRepositories).set({ lastError: null }).where(where).run();
  else {
    db.update(packageRepositories).set({ etag: result.etag, fetchedAt: now, lastError: null }).where(where).run();
    storeVersions(db, name, result.packages);
  }
}

function versionsIn(db: ClusterDb, repo: RepositoryRecord, name?: string): PackageDefinition[] {
  if (isBuiltin(repo.uri)) return BUILTIN_PACKAGES.filter((p) => name === undefined || p.name === name);
  const where = name === undefined ? eq(packageVersions.repository, repo.name) : and(eq(packageVersions.repository, repo.name), eq(packageVersions.name, name));
  return db
    .select({ definition: packageVersions.definition })
    .from(packageVersions)
    .where(where)
    .all()
    .map((r) => r.definition as PackageDefinition);
}

/** The versions of a package, from the first repository (in order) that has a package of that name. */
export function findPackage(db: ClusterDb, name: string): PackageSource | undefined {
  for (const repo of listRepositories(db)) {
    const versions = versionsIn(db, repo, name);
    if (versions.length > 0) return { repository: { name: repo.name, uri: repo.uri }, versions };
  }
  return undefined;
}

/** Every package name the cluster can install, each from the first repository that has it. */
export function allPackages(db: ClusterDb): PackageSource[] {
  const byName = new Map<string, PackageSource>();
  for (const repo of listRepositories(db)) {
    const grouped = new Map<string, PackageDefinition[]>();
    for (const p of versionsIn(db, repo)) grouped.set(p.name, [...(grouped.get(p.name) ?? []), p]);
    for (const [name, versions] of grouped) if (!byName.has(name)) byName.set(name, { repository: { name: repo.name, uri: repo.uri }, versions });
  }
  return [...byName.values()];
}
