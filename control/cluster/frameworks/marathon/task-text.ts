import type { ClusterDb } from "../../db.ts";
import { liveTasks, type TaskRecord } from "../../tasks.ts";
import { getApp, listApps, type StoredApp } from "./apps.ts";
import { MARATHON } from "./demand.ts";
import { servicePorts } from "./task-ports.ts";

/**
 * The `text/plain` form of `GET /v2/tasks` and `GET /v2/apps/{id}/tasks`, as Marathon's
 * `EndpointsHelper.appsToEndpointString` writes it, tab-separated with a tab after every field:
 *   `{safePath}\t{servicePort}\t{host}:{hostPort}\t...\n` for each service port of each app, or
 *   `{safePath}\t \t{host}\t...\n` for an app without service ports.
 * `safePath` is the app id without its leading slash, `/` replaced by `_`. Only running tasks
 * are listed; a task with no host port at that index is left out, as Marathon does.
 */

const TAB = "\t";

/** Marathon's `PathId.safePath`: `/shop/web` → `shop_web`. */
export const safePath = (id: string) => id.split("/").filter(Boolean).join("_");

function appLines(app: StoredApp, running: readonly TaskRecord[]): string {
  const id = safePath(app.id);
  const ports = servicePorts(app.app);
  if (ports.length === 0) return id + TAB + " " + TAB + running.map((t) => t.host + TAB).join("") + "\n";
  return ports
    .map((port, i) => id + TAB + port + TAB + running.flatMap((t) => (t.ports[i] === undefined ? [] : [`${t.host}:${t.ports[i]}${TAB}`])).join("") + "\n")
    .join("");
}

/** The text of every app (sorted by id), or of the one app `appId`; undefined when that app does not exist. */
export function tasksText(db: ClusterDb, appId?: string): string | undefined {
  const apps = appId === undefined ? listApps(db).sort((a, b) => a.id.localeCompare(b.id)) : [getApp(db, appId)].flatMap((a) => a ?? []);
  if (appId !== undefined && apps.length === 0) return undefined;
  const running = liveTasks(db, { framework: MARATHON, group: appId }).filter((t) => t.state === "TASK_RUNNING");
  return apps
    .map((a) =>
      appLines(
        a,
        running.filter((t) => t.group === a.id),
      ),
    )
    .join("");
}
