import { sql } from "drizzle-orm";
import type { ClusterDb } from "../../db.ts";
import { appVersions } from "../../schema.ts";
import { listApps } from "./apps.ts";
import type { AppEmbed, GroupEmbeds } from "./embeds.ts";
import { type GroupNode, ROOT_GROUP, groupTree, inGroup } from "./group-tree.ts";
import { type AppInfo, appInfos } from "./views.ts";

/** `GET /v2/groups[/{id}]` (Marathon's `GroupInfo`) and `/versions`, from the apps inside each group. */

/** An app inside a group: counts and deployments only when embedded (unlike `/v2/apps`, which always has them). */
export type GroupAppInfo = Omit<AppInfo, "tasksStaged" | "tasksRunning" | "tasksHealthy" | "tasksUnhealthy" | "deployments"> &
  Partial<Pick<AppInfo, "tasksStaged" | "tasksRunning" | "tasksHealthy" | "tasksUnhealthy" | "deployments">>;

/** Marathon's `GroupInfo`; `apps`, `pods` and `groups` appear as embedded. DCX has no pods. */
export interface GroupInfo {
  id: string;
  apps?: GroupAppInfo[];
  pods?: never[];
  groups?: GroupInfo[];
  dependencies: string[];
  version: string;
  enforceRole: boolean;
}

/** Drops what `/v2/apps` always shows but a group's apps show only when asked. */
function embedded(info: AppInfo, wanted: ReadonlySet<AppEmbed>): GroupAppInfo {
  const { tasksStaged, tasksRunning, tasksHealthy, tasksUnhealthy, deployments, ...rest } = info;
  return {
    ...rest,
    ...(wanted.has("counts") ? { tasksStaged, tasksRunning, tasksHealthy, tasksUnhealthy } : {}),
    ...(wanted.has("deployments") ? { deployments } : {}),
  };
}

function groupJson(node: GroupNode<AppInfo>, embeds: GroupEmbeds): GroupInfo {
  return {
    id: node.id,
    ...(embeds.group.has("apps") ? { apps: node.apps.map((a) => embedded(a, embeds.app)) } : {}),
    ...(embeds.group.has("pods") ? { pods: [] } : {}),
    ...(embeds.group.has("groups") ? { groups: node.groups.map((g) => groupJson(g, embeds)) } : {}),
    dependencies: [],
    version: node.version,
    enforceRole: false,
  };
}

/** A group with what `embeds` asks for; undefined when no app lies inside it (the root always exists). */
export function groupInfo(db: ClusterDb, groupId: string, embeds: GroupEmbeds, now = Date.now()): GroupInfo | undefined {
  const inside = listApps(db).filter((a) => inGroup(a.id, groupId));
  if (inside.length === 0 && groupId !== ROOT_GROUP) return undefined;
  const tree = groupTree(groupId, appInfos(db, inside, embeds.app, now));
  return tree && groupJson(tree, embeds);
}

/**
 * `GET /v2/groups/{id}/versions`: every stored version of the apps now inside the group,
 * newest first. A group changes whenever an app inside it does; removed apps take their
 * versions with them.
 */
export function groupVersions(db: ClusterDb, groupId: string): string[] | undefined {
  const prefix = groupId === ROOT_GROUP ? ROOT_GROUP : `${groupId}/`;
  // A prefix comparison, not LIKE: ids are compared byte for byte, whatever they contain.
  const rows = db
    .selectDistinct({ version: appVersions.version })
    .from(appVersions)
    .where(sql`substr(${appVersions.appId}, 1, ${prefix.length}) = ${prefix}`)
    .all();
  if (rows.length === 0 && groupId !== ROOT_GROUP) return undefined;
  return rows
    .map((r) => r.version)
    .sort()
    .reverse();
}
