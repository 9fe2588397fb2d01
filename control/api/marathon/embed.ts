import type { Context } from "hono";
import {
  APP_EMBED_NAMES,
  GROUP_EMBED_NAMES,
  type AppEmbed,
  type GroupEmbed,
  type Resolved,
  resolveAppEmbeds,
  resolveGroupEmbeds,
} from "../../cluster/frameworks/marathon/embeds.ts";
import { ApiError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";

/** `?embed=` of the Marathon routes (repeatable, or comma-separated); an unknown value is a 400 naming it. */

function orThrow<T>(resolved: Resolved<T>, known: readonly string[]): T {
  if (resolved.ok) return resolved.embeds;
  const problem = `'${resolved.unknown}' is not one of ${known.join(", ")}`;
  throw new ApiError("malformed", `Unknown embed '${resolved.unknown}': use ${known.join(", ")}.`, [{ path: "embed", errors: [problem] }]);
}

/** An app route's embeds, on top of the route's defaults. */
export function appEmbeds(c: Context<AppEnv>, defaults: readonly AppEmbed[]): AppEmbed[] {
  return [...orThrow(resolveAppEmbeds(c.req.queries("embed") ?? [], defaults), APP_EMBED_NAMES)];
}

/** A group route's embeds, as arrays (they cross to the Cluster object by RPC). */
export function groupEmbeds(c: Context<AppEnv>): { group: GroupEmbed[]; app: AppEmbed[] } {
  const { group, app } = orThrow(resolveGroupEmbeds(c.req.queries("embed") ?? []), GROUP_EMBED_NAMES);
  return { group: [...group], app: [...app] };
}
