import { defineCommand } from "citty";
import { type Api, clusterSession } from "../api.ts";
import { parseSeconds } from "../command.ts";
import type { DeploymentView } from "../deploy-wait.ts";
import { CliError, UsageError } from "../errors.ts";
import { readJsonObject } from "../input.ts";
import { jsonArg, note, print, printJson, printList, shortTime } from "../output.ts";

/**
 * `dcx group list|add|update|scale|remove`: Marathon groups of the current cluster, through
 * `/v2/groups`. Groups come from app ids (`/prod/web/api` is in `/prod/web` and `/prod`); a
 * change to a group is a deployment of each app it touches, and the CLI waits for them all.
 */

/** A group as `GET /v2/groups?embed=group.groups&embed=group.apps&embed=group.apps.counts` shows it. */
export interface GroupView {
  id: string;
  version: string;
  apps?: { id: string; instances: number; tasksRunning?: number }[];
  groups?: GroupView[];
}

/** One line of `dcx group list`: a group with what lies inside it at any depth. */
export interface GroupSummary {
  id: string;
  version: string;
  /** Ids of every app inside, at any depth. */
  apps: string[];
  /** Ids of the groups directly inside. */
  groups: string[];
  instances: number;
  tasksRunning: number;
}

/** Every group of a tree but the root, depth first in the server's (id) order, with its totals. */
export function summarize(root: GroupView): GroupSummary[] {
  const out: GroupSummary[] = [];
  const visit = (g: GroupView): GroupSummary => {
    const own: GroupSummary = { id: g.id, version: g.version, apps: [], groups: (g.groups ?? []).map((s) => s.id), instances: 0, tasksRunning: 0 };
    if (g.id !== "/") out.push(own);
    for (const app of g.apps ?? []) {
      own.apps.push(app.id);
      own.instances += app.instances;
      own.tasksRunning += app.tasksRunning ?? 0;
    }
    for (const sub of (g.groups ?? []).map(visit)) {
      own.apps.push(...sub.apps);
      own.instances += sub.instances;
      own.tasksRunning += sub.tasksRunning;
    }
    return own;
  };
  visit(root);
  return out;
}

/** A group id from the command line; `prod` is `/prod`. The root is refused: it would remove every app. */
export function groupId(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, "");
  if (trimmed === "") throw new UsageError(`'${raw}' is the root group: remove apps one by one with 'dcx app remove', or name a group such as /prod`);
  return trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

const groupPath = (id: string) => `/v2/groups${id.split("/").map(encodeURIComponent).join("/")}`;

const list = defineCommand({
  meta: { name: "list", description: "List the groups of the current cluster (from app ids) with their apps and running tasks" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const root = await s.api.get<GroupView>(s.path("/v2/groups"), { embed: "group.groups,group.apps,group.apps.counts" });
    printList(
      args.json,
      summarize(root),
      ["ID", "APPS", "RUNNING", "VERSION"],
      (g) => [g.id, g.apps.length, `${g.tasksRunning}/${g.instances}`, shortTime(g.version)],
      "No groups: every app is at the top level (an app /prod/web makes the group /prod).",
    );
  },
});

/** The stop deployments of a removal that are still in `/v2/deployments`, and the apps they stop. */
export function stillStopping(deployments: readonly DeploymentView[], ids: readonly string[]): { ids: string[]; apps: string[] } {
  const left = deployments.filter((d) => ids.includes(d.id));
  return { ids: left.map((d) => d.id), apps: left.flatMap((d) => d.affectedApps) };
}

/**
 * Polls `/v2/deployments` until every deployment of a group change is gone; progress on stderr.
 * `doing` says what the apps are doing meanwhile ("stopping", "deploying").
 */
async function waitGone(api: Api, path: (p: string) => string, id: string, ids: readonly string[], timeoutSeconds: number, doing: string): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "";
  for (;;) {
    const left = stillStopping(await api.get<DeploymentView[]>(path("/v2/deployments")), ids);
    if (left.ids.length === 0) return;
    const line = `${id}: ${left.apps.length} of ${ids.length} apps still ${doing} (${left.apps.join(", ")})`;
    if (line !== last) note(line);
    last = line;
    if (Date.now() >= deadline) {
      throw new CliError(
        `${doing === "stopping" ? "removing" : "deploying"} ${id} did not finish within ${timeoutSeconds} s: ${left.apps.join(", ")} still ${doing}`,
        [`see 'dcx deployment list' (${left.ids.join(", ")}) and 'dcx app show ID' for why`],
      );
    }
    await Bun.sleep(500);
  }
}

/** A group change's answer: Marathon's DeploymentResult and DCX's list of every deployment it started. */
interface GroupResult {
  deploymentId: string;
  version: string;
  deploymentIds?: string[];
}

const plural = (n: number) => `${n} app${n === 1 ? "" : "s"}`;

/** Waits for a group change (unless --no-wait) and prints its outcome. */
async function finishChange(s: ReturnType<typeof clusterSession>, id: string, res: GroupResult, args: { wait?: boolean; timeout: string; json?: boolean }) {
  const timeoutSeconds = parseSeconds("timeout", args.timeout);
  const ids = res.deploymentIds ?? [res.deploymentId];
  if (args.wait && ids.length > 0) {
    note(`${id}: deploying ${plural(ids.length)}; waiting up to ${timeoutSeconds} s`);
    await waitGone(s.api, s.path, id, ids, timeoutSeconds, "deploying");
  }
  if (args.json) return printJson({ id, ...res, deploymentIds: ids });
  print(args.wait ? `${id}: deployed (${plural(ids.length)} changed)` : `${id}: deployment started (${ids.join(", ") || "nothing to change"})`);
}

const changeArgs = {
  force: { type: "boolean", description: "override deployments in progress on apps inside the group" },
  wait: {
    type: "boolean",
    default: true,
    description: "wait until every deployment of the change is done",
    negativeDescription: "return once the deployments have started",
  },
  timeout: { type: "string", default: "300", valueHint: "DURATION", description: "give up waiting after this long, e.g. 300, 10m" },
  ...jsonArg,
} as const;

const add = defineCommand({
  meta: { name: "add", description: "Create a group and every app in it from a Marathon group JSON file ('-' for stdin)" },
  args: { file: { type: "positional", required: true, description: "the group (JSON: id, apps, groups, dependencies), or - for stdin" }, ...changeArgs },
  async run({ args }) {
    const body = await readJsonObject(args.file, "group definition");
    if (typeof body.id !== "string") throw new CliError(`${args.file} has no "id": it names the group to create`);
    const id = groupId(body.id);
    const s = clusterSession();
    const res = await s.api.request<GroupResult>("POST", s.path("/v2/groups"), { body });
    await finishChange(s, id, res, args);
  },
});

const update = defineCommand({
  meta: { name: "update", description: "Make a group hold the apps of a JSON file: new ones start, changed ones restart, missing ones stop" },
  args: {
    id: { type: "positional", required: true, description: "the group's id, e.g. /prod" },
    file: { type: "positional", required: true, description: "the group (JSON), or - for stdin" },
    ...changeArgs,
  },
  async run({ args }) {
    const id = groupId(args.id);
    const body = await readJsonObject(args.file, "group definition");
    const s = clusterSession();
    const res = await s.api.request<GroupResult>("PUT", s.path(groupPath(id)), { body, query: { force: args.force || undefined } });
    await finishChange(s, id, res, args);
  },
});

/** A scale factor: a positive number, as Marathon's `scaleBy`. */
export function parseFactor(value: string): number {
  const factor = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(factor) || factor <= 0) throw new UsageError(`FACTOR: '${value}' is not a positive number (e.g. 2, 0.5)`);
  return factor;
}

const scale = defineCommand({
  meta: { name: "scale", description: "Multiply the instances of every app inside a group by FACTOR (rounded up)" },
  args: {
    id: { type: "positional", required: true, description: "the group's id, e.g. /prod" },
    factor: { type: "positional", required: true, description: "e.g. 2, or 0.5" },
    ...changeArgs,
  },
  async run({ args }) {
    const id = groupId(args.id);
    const scaleBy = parseFactor(args.factor);
    const s = clusterSession();
    const res = await s.api.request<GroupResult>("PUT", s.path(groupPath(id)), { body: { scaleBy }, query: { force: args.force || undefined } });
    await finishChange(s, id, res, args);
  },
});

const remove = defineCommand({
  meta: { name: "remove", description: "Delete every app inside a group and kill their tasks" },
  args: {
    id: { type: "positional", required: true, description: "the group's id, e.g. /prod" },
    force: { type: "boolean", description: "override deployments in progress on apps inside the group" },
    wait: {
      type: "boolean",
      default: true,
      description: "wait until every task of the group is gone",
      negativeDescription: "return once the removal has started",
    },
    timeout: { type: "string", default: "300", valueHint: "DURATION", description: "give up waiting after this long, e.g. 300, 10m" },
    ...jsonArg,
  },
  async run({ args }) {
    const id = groupId(args.id);
    const timeoutSeconds = parseSeconds("timeout", args.timeout);
    const s = clusterSession();
    const res = await s.api.request<{ deploymentId: string; version: string; deploymentIds?: string[] }>("DELETE", s.path(groupPath(id)), {
      query: { force: args.force || undefined },
    });
    const ids = res.deploymentIds ?? [res.deploymentId];
    const result = { id, ...res, deploymentIds: ids };
    if (args.wait) {
      note(`${id}: removing ${ids.length} app${ids.length === 1 ? "" : "s"}; waiting up to ${timeoutSeconds} s for their tasks to stop`);
      await waitGone(s.api, s.path, id, ids, timeoutSeconds, "stopping");
    }
    if (args.json) return printJson(result);
    print(args.wait ? `${id}: removed (${ids.length} app${ids.length === 1 ? "" : "s"})` : `${id}: removal started (deployments ${ids.join(", ")})`);
  },
});

export const group = defineCommand({
  meta: { name: "group", description: "Marathon groups of the current cluster (implied by app ids)" },
  subCommands: { list, add, update, scale, remove },
});
