import { BUILTIN_REPOSITORY } from "./catalog/index.ts";
import { CosmosError } from "./errors.ts";
import { checkRepositoryUri, fetchRepository } from "./fetch-repository.ts";
import { repositoryLimits, type PackageScope } from "./operations.ts";

/** Adding and removing a cluster's repositories, shared by Cosmos's routes and the Catalog page. */

export interface RepositoryEntry {
  name: string;
  uri: string;
}

type Refusal = { refused: "RepositoryAlreadyPresent" | "RepositoryNotPresent" | "RepositoryLimit"; message: string };

function unwrapRepos(result: Refusal | RepositoryEntry[]): RepositoryEntry[] {
  if (!Array.isArray(result)) throw new CosmosError(result.refused, result.message);
  return result.map(({ name, uri }) => ({ name, uri }));
}

/**
 * Adds a repository at `index` (0 first; absent last). It is fetched and validated before
 * anything is stored: a broken, unreachable, huge or slow repository changes nothing. The
 * built-in repository is added back by its URI without a fetch.
 */
export async function addRepository(scope: PackageScope, repo: { name: string; uri: string; index?: number }): Promise<RepositoryEntry[]> {
  const present = (await scope.stub.packageRepositories()).find((r) => r.name === repo.name || r.uri === repo.uri);
  if (present)
    throw new CosmosError("RepositoryAlreadyPresent", `A repository named '${present.name}' with URI '${present.uri}' is already present.`, {
      name: present.name,
      uri: present.uri,
    });
  if (repo.uri === BUILTIN_REPOSITORY.uri) return unwrapRepos(await scope.acting.packageRepositoryAdd(repo, [], null));
  checkRepositoryUri(repo.uri);
  const fetched = await fetchRepository(repo.uri, null, repositoryLimits(scope.env));
  if ("notModified" in fetched) throw new CosmosError("UniverseClientHttpError", `The repository at ${repo.uri} answered 304 to an unconditional request.`);
  return unwrapRepos(await scope.acting.packageRepositoryAdd(repo, fetched.packages, fetched.etag));
}

/** Removes a repository by name (or, without one, by URI) with its packages. */
export async function deleteRepository(scope: PackageScope, key: { name?: string; uri?: string }): Promise<RepositoryEntry[]> {
  if (key.name === undefined && key.uri === undefined) throw new CosmosError("RepoNameOrUriMissing", "Give the name or the URI of the repository to delete.");
  return unwrapRepos(await scope.acting.packageRepositoryDelete(key));
}
