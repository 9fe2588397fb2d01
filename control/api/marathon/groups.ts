import { Hono, type Context } from "hono";
import { normalizeGroupId } from "../../cluster/frameworks/marathon/app-definition.ts";
import { z } from "zod";
import { parseGroupBody } from "../../cluster/frameworks/marathon/group-body.ts";
import { ApiError, notFound, validationError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { jsonBody } from "../../http/middleware.ts";
import { groupEmbeds } from "./embed.ts";
import { pathId } from "../query.ts";
import { groupWire } from "./wire.ts";
import { acting, cluster, decodeSegment, deploymentResponse, flag, unwrap } from "./outcome.ts";

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
    id = normalizeGroupId(pathId(raw));
  } catch (err) {
    const problem = err instanceof Error ? err.message : String(err);
    throw new ApiError("malformed", `Invalid group id: ${problem}`, [{ path: "/id", errors: [problem] }]);
  }
  if (!versions) return { id, kind: "group" };
  const version = versions[2];
  return version === undefined ? { id, kind: "versions" } : { id, kind: "version", version: decodeSegment(version) };
}

const groupPath = (c: Context<AppEnv>) => splitGroupPath(c.req.path.replace(/^.*?\/v2\/groups/, ""));

const unknownGroup = (id: string) => notFound(`Group '${id}' does not exist`);

async function show(c: Context<AppEnv>) {
  const path = groupPath(c);
  if (path.kind === "version") {
    throw notFound(
      `Group '${path.id}' has no stored version '${path.version}': DCX keeps the versions of apps (GET /v2/apps/{id}/versions/{version}), not of groups`,
    );
  }
  if (path.kind === "versions") {
    const versions = await cluster(c).marathonGroupVersions(path.id);
    if (!versions) throw unknownGroup(path.id);
    return c.json(versions);
  }
  const group = await cluster(c).marathonGroup(path.id, groupEmbeds(c));
  if (!group) throw unknownGroup(path.id);
  return c.json(groupWire(group));
}

async function remove(c: Context<AppEnv>) {
  const path = groupPath(c);
  if (path.kind !== "group") throw new ApiError("method_not_allowed", `DELETE is not allowed on ${c.req.path}`);
  const result = unwrap(await acting(c).marathonDeleteGroup(path.id, flag(c, "force")));
  // DCX's addition: every app inside got its own stop deployment; clients may wait for all of them.
  return deploymentResponse(c, result, { deploymentIds: result.deploymentIds });
}

/** Any JSON object: the group schema runs after, so its errors carry Marathon's paths. */
const AnyObject = z.record(z.string(), z.unknown(), { message: "expected a JSON object" });

/** The body of a POST or PUT, read inside the group the path names. */
function groupBody(c: Context<AppEnv>, json: Record<string, unknown>, requireId: boolean) {
  const path = groupPath(c);
  if (path.kind !== "group") throw new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`);
  const parsed = parseGroupBody(json, path.id, requireId);
  if (!parsed.ok) throw validationError(parsed.details);
  return parsed.request;
}

async function create(c: Context<AppEnv>, json: Record<string, unknown>) {
  const request = groupBody(c, json, true);
  if (request.kind !== "change")
    throw validationError([
      { path: `/${request.kind === "scale" ? "scaleBy" : "version"}`, errors: ["POST creates a group; scale or roll back an existing one with PUT"] },
    ]);
  const result = unwrap(await acting(c).marathonCreateGroup(request.group));
  c.header("Location", `${c.req.url.split("?")[0]?.replace(/\/v2\/groups.*$/, "/v2/groups")}${request.group.id}`);
  return deploymentResponse(c, { ...result, created: true }, { deploymentIds: result.deploymentIds });
}

async function update(c: Context<AppEnv>, json: Record<string, unknown>) {
  const request = groupBody(c, json, false);
  const stub = cluster(c);
  const force = flag(c, "force");
  if (request.kind === "rollback") {
    throw validationError([
      {
        path: "/version",
        errors: [
          'rolling a whole group back is not supported: DCX stores no group versions (groups are implied by app ids); roll each app back with PUT /v2/apps/{id} {"version": ...}',
        ],
      },
    ]);
  }
  const change = request.kind === "scale" ? { id: request.id, scaleBy: request.scaleBy } : request.group;
  if (flag(c, "dryRun")) return c.json(unwrap(await stub.marathonGroupDryRun(change)));
  const result = unwrap(
    request.kind === "scale"
      ? await acting(c).marathonScaleGroup(request.id, request.scaleBy, force)
      : await acting(c).marathonUpdateGroup(request.group, force),
  );
  return deploymentResponse(c, result, { deploymentIds: result.deploymentIds });
}

/** Marathon's `GroupPartialUpdate`: PATCH changes only `enforceRole`. */
const GroupPatch = z.strictObject({ id: z.string().optional(), enforceRole: z.boolean().optional() });

/**
 * `PATCH /v2/groups[/{id}]`: Marathon changes only `enforceRole` this way. DCX has one role
 * (`*`), so no group enforces one: `false` (or nothing) is accepted and the group is
 * answered as it is; `true` is a 422 saying why.
 */
async function patch(c: Context<AppEnv>, json: z.output<typeof GroupPatch>) {
  const path = groupPath(c);
  if (path.kind !== "group") throw new ApiError("method_not_allowed", `PATCH is not allowed on ${c.req.path}`);
  if (json.enforceRole === true)
    throw validationError([{ path: "/enforceRole", errors: ["DCX has one role ('*') for every group, so a group cannot enforce its own"] }]);
  const group = await cluster(c).marathonGroup(path.id, groupEmbeds(c));
  if (!group) throw unknownGroup(path.id);
  return c.json(groupWire(group));
}

/**
 * `/v2/groups`: Marathon's groups. They are implied by app ids, so POST and PUT create, change
 * and remove the apps inside (one deployment each) and DELETE removes them all.
 */
export const groupRoutes = new Hono<AppEnv>()
  .get("/", show)
  .get("/*", show)
  .post("/", jsonBody(AnyObject), (c) => create(c, c.req.valid("json")))
  .post("/*", jsonBody(AnyObject), (c) => create(c, c.req.valid("json")))
  .put("/", jsonBody(AnyObject), (c) => update(c, c.req.valid("json")))
  .put("/*", jsonBody(AnyObject), (c) => update(c, c.req.valid("json")))
  .delete("/", remove)
  .delete("/*", remove)
  .patch("/", jsonBody(GroupPatch), (c) => patch(c, c.req.valid("json")))
  .patch("/*", jsonBody(GroupPatch), (c) => patch(c, c.req.valid("json")));
