import type { FieldError } from "../../../../protocol/messages.ts";
import { mergeAppPatch, normalizeAppId, parseAppDefinition, type App } from "./app-definition.ts";
import { getApp, nextVersion } from "./apps.ts";
import { dependencyFailure, fail, locked, replaceApp, type CommandContext, type Outcome } from "./commands.ts";
import { deploymentForApp } from "./deployments.ts";
import type { GroupResult } from "./group-commands.ts";

/**
 * `PUT` and `PATCH /v2/apps`: an array of app bodies, each created or updated as
 * `PUT /v2/apps/{id}` would, all in the caller's one transaction, so a failure for any app
 * leaves every app as it was. Errors name the entry: `/0/cpus` is the `cpus` of the first app.
 * A DCX deployment acts on one app, so the result lists one deployment per app.
 */

const invalid = (details: FieldError[]) => fail("invalid", "Object is not valid", { details });
const at = (index: number, details: readonly FieldError[]) => details.map((d) => ({ ...d, path: `/${index}${d.path === "/" ? "" : d.path}` }));

/**
 * The definition one entry asks for: merged onto the stored app when `partial` and the app
 * exists (Marathon's `partialUpdate`), otherwise read as a whole definition.
 */
function resolveEntry(ctx: CommandContext, body: Record<string, unknown>, index: number, partial: boolean): { app: App } | { details: FieldError[] } {
  if (typeof body.id !== "string") return { details: [{ path: `/${index}/id`, errors: ["every app of a bulk update needs its id"] }] };
  let id: string;
  try {
    id = normalizeAppId(body.id);
  } catch (err) {
    return { details: [{ path: `/${index}/id`, errors: [err instanceof Error ? err.message : String(err)] }] };
  }
  const current = partial ? getApp(ctx.db, id) : undefined;
  const parsed = current ? mergeAppPatch(current.app, { ...body, id }) : parseAppDefinition({ ...body, id });
  return parsed.ok ? { app: parsed.app } : { details: at(index, parsed.details) };
}

/** Every entry's definition, or a 422 naming each problem (including an app given twice). */
function resolveAll(ctx: CommandContext, bodies: readonly Record<string, unknown>[], partial: boolean): Outcome<App[]> {
  const apps: App[] = [];
  const details: FieldError[] = [];
  const seen = new Set<string>();
  bodies.forEach((body, i) => {
    const r = resolveEntry(ctx, body, i, partial);
    if ("details" in r) return void details.push(...r.details);
    if (seen.has(r.app.id)) details.push({ path: `/${i}/id`, errors: [`${r.app.id} appears more than once in the body`] });
    seen.add(r.app.id);
    apps.push(r.app);
  });
  return details.length > 0 ? invalid(details) : { ok: true, value: apps };
}

/**
 * `PUT /v2/apps` (`partial` defaults to true) and `PATCH /v2/apps` (always partial). A 409 names
 * every deployment holding one of the apps unless `force`. Dependencies are checked once, on all
 * the apps as they end up.
 */
export function updateApps(ctx: CommandContext, bodies: readonly Record<string, unknown>[], partial: boolean, force: boolean): Outcome<GroupResult> {
  const resolved = resolveAll(ctx, bodies, partial);
  if (!resolved.ok) return resolved;
  const apps = resolved.value;
  const held = apps.flatMap((a) => deploymentForApp(ctx.db, a.id) ?? []);
  if (held.length > 0 && !force) return locked(held);
  const previous = new Map(apps.map((a) => [a.id, getApp(ctx.db, a.id)?.app.dependencies]));
  const deploymentIds: string[] = [];
  for (const [i, app] of apps.entries()) {
    const r = replaceApp(ctx, app, force, false);
    if (!r.ok) return { ...r, details: r.details && at(i, r.details as FieldError[]) };
    deploymentIds.push(r.value.deploymentId);
  }
  const index = new Map(apps.map((a, i) => [a.id, i]));
  const unmet = dependencyFailure(ctx, [...index.keys()], (id) => `/${index.get(id) ?? ""}`, previous);
  if (unmet) return unmet;
  return { ok: true, value: { deploymentId: deploymentIds[0] ?? crypto.randomUUID(), version: nextVersion(ctx.now), deploymentIds } };
}
