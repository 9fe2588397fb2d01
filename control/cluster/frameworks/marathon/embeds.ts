/**
 * Marathon's `?embed=` parameters (`InfoEmbedResolver`): what an app or a group shows beyond
 * its definition. Pure: query values in, sets out, or the value that is not an embed.
 */

/** What an app can show (`AppInfo.Embed`): counters, deployments, tasks, the last failure, task statistics, readiness. */
export const APP_EMBEDS = ["counts", "deployments", "tasks", "lastTaskFailure", "taskStats", "readiness"] as const;
export type AppEmbed = (typeof APP_EMBEDS)[number];

/** What a group can show (`GroupInfo.Embed`). */
export const GROUP_EMBEDS = ["apps", "pods", "groups"] as const;
export type GroupEmbed = (typeof GROUP_EMBEDS)[number];

/**
 * `GET /v2/apps` always shows counts and deployments (Marathon adds them to any embed).
 * `lastTaskFailure` is DCX's: its list has always shown it, and clients read it there.
 */
export const APP_LIST_EMBEDS: readonly AppEmbed[] = ["counts", "deployments", "lastTaskFailure"];

/** `GET /v2/apps/{id}` always shows these, "for compatibility", as Marathon does. */
export const APP_SHOW_EMBEDS: readonly AppEmbed[] = ["counts", "deployments", "tasks", "lastTaskFailure"];

/** A group without `embed` shows its apps, pods and subgroups; its apps show no extras. */
const GROUP_DEFAULTS: readonly GroupEmbed[] = ["apps", "pods", "groups"];

/** The prefixes Marathon accepts before an app embed name, interchangeably; or none. */
const APP_PREFIXES = ["group.apps.", "apps.", "app.", ""] as const;

/** Embed names and what each shows: `tasks` brings deployments, deprecated `failures` brings tasks and the last failure too. */
const APP_NAMES: Record<string, readonly AppEmbed[]> = {
  counts: ["counts"],
  deployments: ["deployments"],
  tasks: ["tasks", "deployments"],
  failures: ["tasks", "lastTaskFailure", "deployments"],
  lastTaskFailure: ["lastTaskFailure"],
  taskStats: ["taskStats"],
  readiness: ["readiness"],
};

export type Resolved<T> = { ok: true; embeds: T } | { ok: false; unknown: string };

/** The values of repeated `embed` parameters, each also split at commas. */
function split(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/** One app embed value with any of Marathon's prefixes (`apps.tasks`, `app.tasks`, `tasks`). */
function appEmbedOf(value: string, prefixes: readonly string[]): readonly AppEmbed[] | undefined {
  for (const prefix of prefixes) {
    if (!value.startsWith(prefix)) continue;
    const name = value.slice(prefix.length);
    if (Object.hasOwn(APP_NAMES, name)) return APP_NAMES[name];
  }
  return undefined;
}

/** An app route's embeds: the route's defaults plus what was asked for. */
export function resolveAppEmbeds(values: readonly string[], defaults: readonly AppEmbed[]): Resolved<Set<AppEmbed>> {
  const embeds = new Set(defaults);
  for (const value of split(values)) {
    const found = appEmbedOf(value, APP_PREFIXES);
    if (!found) return { ok: false, unknown: value };
    for (const e of found) embeds.add(e);
  }
  return { ok: true, embeds };
}

export interface GroupEmbeds {
  group: Set<GroupEmbed>;
  app: Set<AppEmbed>;
}

/**
 * A group route's embeds: `group.groups`, `group.apps`, `group.pods` and `group.apps.*` for
 * the apps inside. As in Marathon, naming any embed replaces the defaults: `embed=group.apps.tasks`
 * alone shows neither apps nor subgroups.
 */
export function resolveGroupEmbeds(values: readonly string[]): Resolved<GroupEmbeds> {
  const asked = split(values);
  if (asked.length === 0) return { ok: true, embeds: { group: new Set(GROUP_DEFAULTS), app: new Set() } };
  const embeds: GroupEmbeds = { group: new Set(), app: new Set() };
  for (const value of asked) {
    const group = GROUP_EMBEDS.find((g) => value === `group.${g}`);
    const app = group ? undefined : appEmbedOf(value, ["group.apps."]);
    if (group) embeds.group.add(group);
    else if (app) for (const e of app) embeds.app.add(e);
    else return { ok: false, unknown: value };
  }
  return { ok: true, embeds };
}

/** The values an app route accepts, for error messages. */
export const APP_EMBED_NAMES: readonly string[] = Object.keys(APP_NAMES).map((n) => `apps.${n}`);

/** The values a group route accepts, for error messages. */
export const GROUP_EMBED_NAMES: readonly string[] = [...GROUP_EMBEDS.map((g) => `group.${g}`), ...Object.keys(APP_NAMES).map((n) => `group.apps.${n}`)];
