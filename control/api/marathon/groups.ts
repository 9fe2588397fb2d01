import { Hono, type Context } from "hono";
import { normalizeGroupId } from "../../cluster/frameworks/marathon/app-definition.ts";
import { ApiError, notFound } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { groupEmbeds } from "./embed.ts";
import { cluster, deploymentResponse, flag, unwrap } from "./outcome.ts";

/** What `/v2/groups/...` names: a group, its versions, or one of its versions. */
export type GroupPath = { id: string; kind: "group" | "versions" } | { id: string; kind: "version"; version: string };

/**
 * Splits `/v2/groups/prod/web/versions` into the group id and what follows. As in Marathon, a
 * trailing `versions` segment means the versions of the group before it. A malformed id is a
 * 400 naming the problem.
 */
export function splitGroupPath(rest: string): GroupPath {
  const versions = /^(.*?)\/versions(?:\/([^/]+))?\/?$/.exec(rest);
  const raw = versions ? (versions[1] ?? "") : rest;
  let id: string;
  try {
    id = normalizeGroupId(raw);
  } catch (err) {
    const problem = err instanceof Error ? err.message : String(err);
    throw new ApiError("malformed", `Invalid group id: ${problem}`, [{ path: "/id", errors: [problem] }]);
  }
  if (!versions) return { id, kind: "group" };
  const version = versions[2];
  return version === undefined ? { id, kind: "versions" } : { id, kind: "version", version: decodeURIComponent(version) };
}

const groupPath = (c: Context<AppEnv>) => splitGroupPath(c.req.path.replace(/^.*?\/v2\/groups/, ""));

const unknownGroup = (id: string) => notFound(`Group '${id}' does not exist`);

async function show(c: Context<AppEnv>) {
  const path = groupPath(c);
  if (path.kind === "version") {
    throw notFound(`Group '${path.id}' has no stored version '${path.version}': DCX keeps the versions of apps (GET /v2/apps/{id}/versions/{version}), not of groups`);
  }
  if (path.kind === "versions") {
    const versions = await cluster(c).marathonGroupVersions(path.id);
    if (!versions) throw unknownGroup(path.id);
    return c.json(versions);
  }
  const group = await cluster(c).marathonGroup(path.id, groupEmbeds(c));
  if (!group) throw unknownGroup(path.id);
  return c.json(group);
}

async function remove(c: Context<AppEnv>) {
  const path = groupPath(c);
  if (path.kind !== "group") throw new ApiError("method_not_allowed", `DELETE is not allowed on ${c.req.path}`);
  const result = unwrap(await cluster(c).marathonDeleteGroup(path.id, flag(c, "force")));
  // DCX's addition: every app inside got its own stop deployment; clients may wait for all of them.
  return deploymentResponse(c, result, { deploymentIds: result.deploymentIds });
}

function readOnly(c: Context<AppEnv>): never {
  throw new ApiError(
    "method_not_allowed",
    `${c.req.method} is not supported on /v2/groups: DCX groups are implied by app ids (/prod/web is in the group /prod); create and change apps through /v2/apps`,
  );
}

/** `/v2/groups`: Marathon's groups, read and removed; they are made by the apps inside them. */
export const groupRoutes = new Hono<AppEnv>()
  .get("/", show)
  .get("/*", show)
  .delete("/", remove)
  .delete("/*", remove)
  .on(["POST", "PUT", "PATCH"], ["/", "/*"], readOnly);
