import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { variadic } from "../command.ts";
import { jsonArg, print, printJson, printList, shortTime } from "../output.ts";
import { appId } from "./app.ts";
import { log } from "./task-log.ts";

/** `dcx task list|kill|log`: the running tasks of Marathon apps. */

interface TaskInfo {
  id: string;
  appId: string;
  host: string;
  ports: number[];
  state: string;
  startedAt: string | null;
  stagedAt: string | null;
  healthCheckResults?: { alive?: boolean }[];
}

/** `healthy` when every health check passes, `unhealthy` when one fails, empty without checks. */
function health(t: TaskInfo): string {
  const results = t.healthCheckResults ?? [];
  if (results.length === 0) return "";
  return results.every((r) => r.alive === true) ? "healthy" : "unhealthy";
}

const list = defineCommand({
  meta: { name: "list", description: "List the tasks of the current cluster's apps" },
  args: { app: { type: "string", valueHint: "ID", description: "only this app's tasks" }, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    const path = args.app === undefined ? "/v2/tasks" : `/v2/apps${appId(args.app)}/tasks`;
    const { tasks } = await s.api.get<{ tasks: TaskInfo[] }>(s.path(path));
    printList(
      args.json,
      tasks,
      ["ID", "APP", "STATE", "HEALTH", "HOST", "PORTS", "STARTED"],
      (t) => [t.id, t.appId, t.state, health(t), t.host, t.ports.join(","), shortTime(t.startedAt ?? t.stagedAt)],
      "No tasks.",
    );
  },
});

const kill = variadic(
  defineCommand({
    meta: { name: "kill", description: "Kill tasks; their apps replace them, unless --scale lowers the instance count" },
    args: {
      id: { type: "positional", required: true, description: "task ids (one or more)" },
      scale: { type: "boolean", description: "lower each app's instances by its killed tasks instead of replacing them" },
      ...jsonArg,
    },
    async run({ args }) {
      const s = clusterSession();
      const ids = args._;
      const res = await s.api.request<{ tasks?: unknown[]; deploymentId?: string; version?: string }>("POST", s.path("/v2/tasks/delete"), {
        body: { ids },
        query: { scale: args.scale || undefined },
      });
      if (args.json) return printJson({ killed: ids, ...(res.deploymentId ? { deploymentId: res.deploymentId, version: res.version } : {}) });
      print(
        `Killing ${ids.length === 1 ? "task" : `${ids.length} tasks`}: ${ids.join(", ")}.${res.deploymentId ? ` Scaling down: deployment ${res.deploymentId}.` : ""}`,
      );
    },
  }),
);

export const task = defineCommand({
  meta: { name: "task", description: "Tasks of the current cluster's apps" },
  subCommands: { list, kill, log },
});
