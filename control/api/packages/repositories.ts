import { z } from "zod";
import { addRepository, deleteRepository } from "../../packages/repositories.ts";
import { cluster } from "../marathon/outcome.ts";
import { cosmos, scopeOf } from "./cosmos-route.ts";

const AddRequest = z.object({
  name: z.string().trim().min(1).max(128),
  uri: z.string().trim().min(1).max(2048),
  index: z.number().int().min(0).optional(),
});
const DeleteRequest = z.object({ name: z.string().min(1).optional(), uri: z.string().min(1).optional() });

/** `/package/repository/{list,add,delete}`: each answers the repositories as they now stand, in order. */
export const listRepositoriesRoute = cosmos({ request: "package.repository.list-request", response: "package.repository.list-response", versions: [1], body: z.object({}) }, async (c) => ({
  repositories: (await cluster(c).packageRepositories()).map(({ name, uri }) => ({ name, uri })),
}));

export const addRepositoryRoute = cosmos({ request: "package.repository.add-request", response: "package.repository.add-response", versions: [1], body: AddRequest }, async (c, body) => ({
  repositories: await addRepository(scopeOf(c), body),
}));

export const deleteRepositoryRoute = cosmos({ request: "package.repository.delete-request", response: "package.repository.delete-response", versions: [1], body: DeleteRequest }, async (c, body) => ({
  repositories: await deleteRepository(scopeOf(c), body),
}));
