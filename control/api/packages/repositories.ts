import { z } from "zod";
import { BUILTIN_REPOSITORY } from "../../packages/catalog/index.ts";
import { CosmosError } from "../../packages/errors.ts";
import { checkRepositoryUri, fetchRepository } from "../../packages/fetch-repository.ts";
import { repositoryLimits } from "../../packages/operations.ts";
import { cluster } from "../marathon/outcome.ts";
import { cosmos } from "./cosmos-route.ts";

const repositoriesBody = (repos: { name: string; uri: string }[]) => ({ repositories: repos.map(({ name, uri }) => ({ name, uri })) });

function unwrapRepos<T extends { name: string; uri: string }>(result: { refused: "RepositoryAlreadyPresent" | "RepositoryNotPresent"; message: string } | T[]) {
  if (!Array.isArray(result)) throw new CosmosError(result.refused, result.message);
  return repositoriesBody(result);
}

const AddRequest = z.object({
  name: z.string().trim().min(1).max(128),
  uri: z.string().trim().min(1).max(2048),
  index: z.number().int().min(0).optional(),
});
const DeleteRequest = z.object({ name: z.string().min(1).optional(), uri: z.string().min(1).optional() });

/** `/package/repository/{list,add,delete}`. */
export const listRepositoriesRoute = cosmos({ request: "package.repository.list-request", response: "package.repository.list-response", versions: [1], body: z.object({}) }, async (c) =>
  repositoriesBody(await cluster(c).packageRepositories()),
);

export const addRepositoryRoute = cosmos({ request: "package.repository.add-request", response: "package.repository.add-response", versions: [1], body: AddRequest }, async (c, body) => {
  const stub = cluster(c);
  const present = (await stub.packageRepositories()).find((r) => r.name === body.name || r.uri === body.uri);
  if (present) throw new CosmosError("RepositoryAlreadyPresent", `A repository named '${present.name}' with URI '${present.uri}' is already present.`, { name: present.name, uri: present.uri });
  if (body.uri === BUILTIN_REPOSITORY.uri) return unwrapRepos(await stub.packageRepositoryAdd(body, [], null));
  checkRepositoryUri(body.uri);
  // Fetched and validated before anything is stored: a broken repository changes nothing.
  const fetched = await fetchRepository(body.uri, null, repositoryLimits(c.env));
  if ("notModified" in fetched) throw new CosmosError("UniverseClientHttpError", `The repository at ${body.uri} answered 304 to an unconditional request.`);
  return unwrapRepos(await stub.packageRepositoryAdd(body, fetched.packages, fetched.etag));
});

export const deleteRepositoryRoute = cosmos({ request: "package.repository.delete-request", response: "package.repository.delete-response", versions: [1], body: DeleteRequest }, async (c, body) => {
  if (body.name === undefined && body.uri === undefined) throw new CosmosError("RepoNameOrUriMissing", "Give the name or the URI of the repository to delete.");
  return unwrapRepos(await cluster(c).packageRepositoryDelete(body));
});
