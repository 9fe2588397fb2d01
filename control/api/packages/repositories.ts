import { addRepository, deleteRepository } from "../../packages/repositories.ts";
import { RepositoryAddRequest, RepositoryDeleteRequest, RepositoryListRequest } from "../../packages/requests.ts";
import { cluster } from "../marathon/outcome.ts";
import { cosmos, scopeOf } from "./cosmos-route.ts";

/** `/package/repository/{list,add,delete}`: each answers the repositories as they now stand, in order. */
export const listRepositoriesRoute = cosmos(
  { request: "package.repository.list-request", response: "package.repository.list-response", versions: [1], body: RepositoryListRequest },
  async (c) => ({
    repositories: (await cluster(c).packageRepositories()).map(({ name, uri }) => ({ name, uri })),
  }),
);

export const addRepositoryRoute = cosmos(
  { request: "package.repository.add-request", response: "package.repository.add-response", versions: [1], body: RepositoryAddRequest },
  async (c, body) => ({
    repositories: await addRepository(scopeOf(c), body),
  }),
);

export const deleteRepositoryRoute = cosmos(
  { request: "package.repository.delete-request", response: "package.repository.delete-response", versions: [1], body: RepositoryDeleteRequest },
  async (c, body) => ({
    repositories: await deleteRepository(scopeOf(c), body),
  }),
);
