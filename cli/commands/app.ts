import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { parseCount, parseSeconds } from "../command.ts";
import { type AppView, type Target, followDeployment } from "../deploy-wait.ts";
import { CliError, UsageError } from "../errors.ts";
import { readJsonObject } from "../input.ts";
import { fields, jsonArg, note, print, printJson, printList, truncate } from "../output.ts";

/** `dcx app …`: Marathon apps of the current cluster, through `/v2/apps`. */

/** An app as `/v2/apps` shows it: the definition plus Marathon's counters. */
interface AppInfo extends AppView {
  cmd?: string | null;
  args?: string[] | null;
  cpus: number;
  mem: number;
  disk: number;
  container?: { type?: string; docker?: { image?: string } } | null;
  deployments: { id: string }[];
  tasksUnhealthy?: number;
}

/** Marathon's answer to a change: the deployment it started and the app version it made. */
interface DeploymentResult {
  deploymentId: string;
  version: string;
}

/** Marathon ids are absolute paths; people type `web` as often as `/web`. */
export function appId(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, "");
  if (trimmed === "" || trimmed === "/") throw new UsageError(`'${raw}' is not an app id`);
  return trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

const appPath = (id: string) => `/v2/apps${id.split("/").map(encodeURIComponent).join("/")}`;

const idArg = { id: { type: "positional", required: true, description: "the app's id, e.g. /web" } } as const;
const forceArg = { force: { type: "boolean", description: "override a deployment in progress on the app" } } as const;
const waitArgs = {
  wait: {
    type: "boolean",
    default: true,
    description: "wait for the deployment and show its progress",
    negativeDescription: "return once the deployment has started",
  },
  timeout: { type: "string", default: "300", valueHint: "DURATION", description: "give up waiting after this long, e.g. 300, 10m" },
} as const;

/** After a change: follow its deployment unless `--no-wait`, then say how it ended (JSON: `{id, deploymentId, version}`). */
async function finish(s: ReturnType<typeof clusterSession>, target: Target, args: { wait: boolean; timeout: string; json?: boolean }): Promise<void> {
  const timeoutSeconds = parseSeconds("timeout", args.timeout);
  const result = { id: target.appId, deploymentId: target.deploymentId, version: target.version };
  if (!args.wait) {
    if (args.json) return printJson(result);
    return print(`${target.appId}: deployment ${target.deploymentId} started (version ${target.version}).`);
  }
  note(`${target.appId}: deployment ${target.deploymentId} started; waiting up to ${timeoutSeconds} s`);
  const line = await followDeployment(s.api, s.path, target, { timeoutSeconds });
  if (args.json) printJson(result);
  else print(line);
}

const add = defineCommand({
  meta: { name: "add", description: "Create an app from a Marathon JSON file ('-' for stdin) and wait for it to run" },
  args: { file: { type: "positional", required: true, description: "the app definition (JSON), or - for stdin" }, ...waitArgs, ...jsonArg },
  async run({ args }) {
    const definition = await readJsonObject(args.file, "app definition");
    const s = clusterSession();
    const app = await s.api.request<AppInfo>("POST", s.path("/v2/apps"), { body: definition });
    const deploymentId = app.deployments[0]?.id;
    if (!deploymentId) throw new CliError(`the server created ${app.id} without a deployment`);
    await finish(s, { appId: app.id, deploymentId, version: app.version }, args);
  },
});

const update = defineCommand({
  meta: { name: "update", description: "Replace an app with the definition in a file ('-' for stdin; its id names the app)" },
  args: { file: { type: "positional", required: true, description: "the new app definition (JSON), or - for stdin" }, ...forceArg, ...waitArgs, ...jsonArg },
  async run({ args }) {
    const definition = await readJsonObject(args.file, "app definition");
    if (typeof definition.id !== "string") throw new CliError(`${args.file} has no "id": it names the app to update`);
    const id = appId(definition.id);
    const s = clusterSession();
    const res = await s.api.request<DeploymentResult>("PUT", s.path(appPath(id)), { body: definition, query: { force: args.force || undefined } });
    await finish(s, { appId: id, ...res }, args);
  },
});

const scale = defineCommand({
  meta: { name: "scale", description: "Set the number of instances of an app" },
  args: { ...idArg, instances: { type: "positional", required: true, description: "how many instances" }, ...forceArg, ...waitArgs, ...jsonArg },
  async run({ args }) {
    const id = appId(args.id);
    const instances = parseCount("N", args.instances);
    const s = clusterSession();
    const res = await s.api.request<DeploymentResult>("PATCH", s.path(appPath(id)), { body: { instances }, query: { force: args.force || undefined } });
    await finish(s, { appId: id, ...res }, args);
  },
});

const restart = defineCommand({
  meta: { name: "restart", description: "Replace every task of an app, following its upgradeStrategy" },
  args: { ...idArg, ...forceArg, ...waitArgs, ...jsonArg },
  async run({ args }) {
    const id = appId(args.id);
    const s = clusterSession();
    const res = await s.api.request<DeploymentResult>("POST", s.path(`${appPath(id)}/restart`), { query: { force: args.force || undefined } });
    await finish(s, { appId: id, ...res }, args);
  },
});

const remove = defineCommand({
  meta: { name: "remove", description: "Delete an app and kill its tasks" },
  args: { ...idArg, ...forceArg, ...waitArgs, ...jsonArg },
  async run({ args }) {
    const id = appId(args.id);
    const s = clusterSession();
    const res = await s.api.request<DeploymentResult>("DELETE", s.path(appPath(id)), { query: { force: args.force || undefined } });
    await finish(s, { appId: id, ...res, removing: true }, args);
  },
});

/** What runs: the command, or the image for containers without one. */
function runs(app: AppInfo): string {
  const image = app.container?.docker?.image;
  const what = app.cmd ?? (app.args ?? []).join(" ");
  return image ? `${image}${what ? ` ${what}` : ""}` : what;
}

const healthy = (app: AppInfo) => ((app.healthChecks ?? []).length > 0 ? `${app.tasksHealthy}/${app.instances}` : "-");

const list = defineCommand({
  meta: { name: "list", description: "List the apps of the current cluster" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const { apps } = await s.api.get<{ apps: AppInfo[] }>(s.path("/v2/apps"));
    printList(
      args.json,
      apps,
      ["ID", "RUNNING", "HEALTHY", "CPUS", "MEM", "DEPLOYMENT", "CONTAINER", "CMD"],
      (a) => [a.id, `${a.tasksRunning}/${a.instances}`, healthy(a), a.cpus, a.mem, a.deployments[0]?.id, a.container?.type ?? "MESOS", truncate(runs(a), 50)],
      "No apps.",
    );
  },
});

const show = defineCommand({
  meta: { name: "show", description: "Show an app: its counters, what it runs, and its last task failure" },
  args: { ...idArg, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    const { app } = await s.api.get<{ app: AppInfo }>(s.path(appPath(appId(args.id))));
    if (args.json) return printJson(app);
    const failure = app.lastTaskFailure;
    print(
      fields([
        ["id", app.id],
        ["version", app.version],
        ["instances", app.instances],
        ["running", app.tasksRunning],
        ["staged", app.tasksStaged],
        ["healthy", healthy(app) === "-" ? undefined : healthy(app)],
        ["cpus", app.cpus],
        ["mem", app.mem],
        ["disk", app.disk],
        ["container", app.container?.type ?? "MESOS"],
        ["runs", runs(app)],
        ["deployments", app.deployments.map((d) => d.id).join(", ")],
        ["last failure", failure ? `${failure.timestamp} ${failure.taskId} ${failure.state}: ${failure.message}` : undefined],
      ]),
    );
  },
});

export const app = defineCommand({
  meta: { name: "app", description: "Marathon apps of the current cluster" },
  subCommands: { add, list, show, update, scale, restart, remove },
});
