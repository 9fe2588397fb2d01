import { z } from "zod";
import { fieldErrors, type FieldError } from "../../../../protocol/messages.ts";
import { canonicalPath, normalizeGroupId, parseAppDefinition, type App } from "./app-definition.ts";
import { ROOT_GROUP, parentGroup } from "./group-tree.ts";

/**
 * Marathon's `GroupUpdate` body (`POST`/`PUT /v2/groups`), read into absolute ids. As in
 * Marathon, a group's id is read inside the group it is nested in (or the path of the request),
 * and its apps' ids and every `dependencies` entry inside the group itself: `web` in `/prod` is
 * `/prod/web`. Errors carry Marathon's paths for nested bodies, `/groups(0)/apps(1)/cpus`.
 */

/** A group as a body gives it. `apps` and `groups` are undefined when the body leaves them out. */
export interface GroupSpec {
  id: string;
  /** The group's own apps, each with the body path of its definition. */
  apps?: { app: App; at: string }[];
  groups?: GroupSpec[];
}

/** What a body asks for: a change of the group's content, a scale of every app inside, or a rollback. */
export type GroupRequest =
  | { kind: "change"; group: GroupSpec }
  | { kind: "scale"; id: string; scaleBy: number }
  | { kind: "rollback"; id: string; version: string };

export type GroupBodyResult = { ok: true; request: GroupRequest } | { ok: false; details: FieldError[] };

/** The fields of a group body (its apps are then validated as apps); the OpenAPI document shows it. */
export const GroupFields = z.looseObject({
  id: z.string().optional(),
  apps: z.array(z.record(z.string(), z.unknown(), { message: "expected an app definition (a JSON object)" })).optional(),
  groups: z.array(z.unknown()).optional(),
  pods: z.array(z.unknown()).max(0, { message: "DCX has no pods: run each as an app" }).optional(),
  dependencies: z.array(z.string()).optional(),
  scaleBy: z.number().positive().finite().optional(),
  version: z.string().optional(),
  enforceRole: z.boolean().optional(),
});

class BodyError extends Error {
  constructor(readonly details: FieldError[]) {
    super("group body is not valid");
  }
}

const issue = (path: string, error: string) => new BodyError([{ path: path || "/", errors: [error] }]);

/** Reads an id inside `base` and validates it as a group id, or throws a BodyError at `path`. */
function groupIdAt(raw: string, base: string, path: string): string {
  try {
    return normalizeGroupId(canonicalPath(raw, base));
  } catch (err) {
    throw issue(path, err instanceof Error ? err.message : String(err));
  }
}

/**
 * Reads a body sent to the group `pathId` (the root for `POST /v2/groups`). Never throws.
 * `requireId` is for POST, where the body names the group it creates.
 */
export function parseGroupBody(json: unknown, pathId: string, requireId: boolean): GroupBodyResult {
  try {
    const fields = readFields(json, "");
    if (requireId && fields.id === undefined) throw issue("/id", "is required: the id of the group to create");
    const id = fields.id === undefined ? pathId : groupIdAt(fields.id, pathId, "/id");
    const changes = fields.apps !== undefined || fields.groups !== undefined || fields.dependencies !== undefined;
    if (fields.scaleBy !== undefined || fields.version !== undefined) {
      if (changes || (fields.scaleBy !== undefined && fields.version !== undefined)) {
        throw issue("/", "give either scaleBy, or version, or the group's apps, groups and dependencies");
      }
      return {
        ok: true,
        request: fields.scaleBy !== undefined ? { kind: "scale", id, scaleBy: fields.scaleBy } : { kind: "rollback", id, version: fields.version ?? "" },
      };
    }
    return { ok: true, request: { kind: "change", group: readGroup(fields, id, "", []) } };
  } catch (err) {
    if (err instanceof BodyError) return { ok: false, details: err.details };
    throw err;
  }
}

function readFields(json: unknown, at: string): z.output<typeof GroupFields> {
  const parsed = GroupFields.safeParse(json);
  if (!parsed.success) throw new BodyError(fieldErrors(parsed.error).map((e) => ({ ...e, path: at + (e.path === "/" ? "" : marathonPath(e.path)) || "/" })));
  return parsed.data;
}

/** zod's `/apps/1/cpus` in Marathon's shape for group bodies, `/apps(1)/cpus`. */
function marathonPath(path: string): string {
  return path.replace(/^\/(apps|groups|pods|dependencies)\/(\d+)/, "/$1($2)");
}

/** How deep groups may nest in one body: far beyond any real tree, and short of the stack. */
export const MAX_GROUP_DEPTH = 32;

/**
 * One group of the body, its apps and its subgroups, read inside `id`. Dependencies of a group
 * apply to every app inside it, so they are passed down and added to each app's own.
 */
function readGroup(fields: z.output<typeof GroupFields>, id: string, at: string, inherited: readonly string[], depth = 1): GroupSpec {
  const dependencies = [...inherited, ...(fields.dependencies ?? []).map((d, i) => groupIdAt(d, id, `${at}/dependencies(${i})`))];
  const spec: GroupSpec = { id };
  if (fields.apps !== undefined) spec.apps = fields.apps.map((raw, i) => ({ app: readApp(raw, id, `${at}/apps(${i})`, dependencies), at: `${at}/apps(${i})` }));
  if (fields.groups !== undefined) {
    spec.groups = fields.groups.map((raw, i) => {
      const path = `${at}/groups(${i})`;
      const sub = readFields(raw, path);
      if (sub.scaleBy !== undefined || sub.version !== undefined)
        throw issue(`${path}/${sub.scaleBy !== undefined ? "scaleBy" : "version"}`, "is only allowed on the group the request names");
      if (sub.id === undefined) throw issue(`${path}/id`, "is required");
      if (depth >= MAX_GROUP_DEPTH) throw issue(path, `groups nest at most ${MAX_GROUP_DEPTH} deep`);
      return readGroup(sub, childId(sub.id, id, `${path}/id`), path, dependencies, depth + 1);
    });
  }
  return spec;
}

/** An app or subgroup id read inside `groupId`, which must be its direct parent (as Marathon requires). */
function childId(raw: string, groupId: string, path: string): string {
  const id = groupIdAt(raw, groupId, path);
  if (id === ROOT_GROUP || parentGroup(id) !== groupId) throw issue(path, `Identifier ${id} is not child of ${groupId}. Hint: use relative paths.`);
  return id;
}

function readApp(raw: Record<string, unknown>, groupId: string, at: string, inherited: readonly string[]): App {
  if (typeof raw.id !== "string") throw issue(`${at}/id`, "is required");
  const id = childId(raw.id, groupId, `${at}/id`);
  // A malformed `dependencies` is left for the app schema to report.
  const own = Array.isArray(raw.dependencies) ? raw.dependencies : raw.dependencies === undefined ? [] : undefined;
  const deps = own?.map((d, i) => (typeof d === "string" ? groupIdAt(d, groupId, `${at}/dependencies/${i}`) : d));
  const withDeps = deps !== undefined && deps.length + inherited.length > 0 ? { dependencies: [...new Set([...inherited, ...deps])] } : {};
  const parsed = parseAppDefinition({ ...raw, id, ...withDeps });
  if (!parsed.ok) throw new BodyError(parsed.details.map((e) => ({ ...e, path: at + e.path })));
  return parsed.app;
}

/** Every app a spec gives, depth first, with its body path. */
export function specApps(spec: GroupSpec): { app: App; at: string }[] {
  return [...(spec.apps ?? []), ...(spec.groups ?? []).flatMap(specApps)];
}
