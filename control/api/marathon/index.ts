import { Hono } from "hono";
import { z } from "zod";
import { MAX_EVENT_SUBSCRIBERS } from "../../cluster/events.ts";
import { ApiError, notFound, validationError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { jsonBody } from "../../http/middleware.ts";
import { normalizeAppId } from "../../cluster/frameworks/marathon/app-definition.ts";
import { list, pathId } from "../query.ts";
import { appRoutes, plainText, wantsText } from "./apps.ts";
import { groupRoutes } from "./groups.ts";
import { acting, cluster, deploymentResponse, flag, killScales, unwrap } from "./outcome.ts";
import { queueEntryJson } from "./queue.ts";
import { marathonInfo } from "./system.ts";
import { deploymentWire, taskWire } from "./wire.ts";

export { MARATHON_API_VERSION } from "./system.ts";

/** Marathon's `?status=` filter: `running` and `staging` (any case); other values are ignored, as Marathon ignores them. */
const STATUS_FILTERS: Readonly<Record<string, string>> = { running: "TASK_RUNNING", staging: "TASK_STAGING" };
const taskStates = (values: string[]) => values.flatMap((v) => STATUS_FILTERS[v.toLowerCase()] ?? []);

const TaskIds = z.strictObject({ ids: z.array(z.string().min(1)).min(1).max(10_000) });

/** A deployment id from the path: ids hold no slash, so `/v2/deployments//x` names `x`. */
const deploymentId = (path: string) => pathId(path.replace(/^.*?\/v2\/deployments/, "")).slice(1);

/** Whether the client asked for DCX's `waiting` on deployments (`?embed=waiting`, DCX's own embed). */
const withWaiting = (embeds: string[]) => embeds.includes("waiting");

/** `DELETE /v2/queue/{appId}/delay`: the app id, with or without its leading slash. */
function queuedAppId(path: string): string {
  const m = /\/v2\/queue(\/.+)\/delay\/?$/.exec(path);
  if (!m?.[1]) throw new ApiError("not_found", `No route for DELETE ${path}.`);
  try {
    return normalizeAppId(pathId(m[1]));
  } catch (err) {
    throw validationError([{ path: "/id", errors: [String(err instanceof Error ? err.message : err)] }]);
  }
}

/** Marathon's REST API (`/v2`), under `/c/:cluster`. */
export const marathonRoutes = new Hono<AppEnv>()
  .route("/apps", appRoutes)
  .route("/groups", groupRoutes)
  .get("/tasks", async (c) => {
    if (wantsText(c)) return plainText(c, (await cluster(c).marathonTasksText()) ?? "");
    const wanted = taskStates(list(c, "status", "status[]"));
    const tasks = await cluster(c).marathonTasks();
    return c.json({ tasks: (wanted.length ? tasks.filter((t) => wanted.includes(t.state)) : tasks).map(taskWire) });
  })
  .post("/tasks/delete", jsonBody(TaskIds), async (c) => {
    const result = unwrap(await acting(c).marathonKill(c.req.valid("json").ids, killScales(c)));
    if (result.deployment) return deploymentResponse(c, result.deployment);
    return c.json({ tasks: result.tasks.map(taskWire) });
  })
  .get("/deployments", async (c) => {
    const waiting = withWaiting(list(c, "embed"));
    return c.json((await cluster(c).marathonDeployments()).map((d) => deploymentWire(d, waiting)));
  })
  .get("/deployments/*", async (c) => {
    const id = deploymentId(c.req.path);
    const d = (await cluster(c).marathonDeployments()).find((x) => x.id === id);
    if (!d) throw notFound(`DeploymentPlan ${id} does not exist`);
    return c.json(deploymentWire(d, withWaiting(list(c, "embed"))));
  })
  .delete("/deployments/*", async (c) => {
    const force = flag(c, "force");
    const result = unwrap(await acting(c).marathonCancelDeployment(deploymentId(c.req.path), force));
    if (force || !result) return c.body(null, 202);
    return deploymentResponse(c, result);
  })
  .get("/queue", async (c) => {
    const lastUnusedOffers = list(c, "embed").includes("lastUnusedOffers");
    return c.json({ queue: (await cluster(c).marathonQueue(lastUnusedOffers)).map((e) => queueEntryJson(e, lastUnusedOffers)) });
  })
  .delete("/queue/*", async (c) => {
    unwrap(await acting(c).marathonResetDelay(queuedAppId(c.req.path)));
    return c.body(null, 204);
  })
  .get("/info", (c) => c.json(marathonInfo(c)))
  .get("/leader", (c) => c.json({ leader: new URL(c.req.url).host }))
  // There is no leader to abdicate: the Cluster object is the only writer. Marathon's answer, and nothing changes.
  .delete("/leader", (c) => c.json({ message: "Leadership abdicated" }))
  .get("/events", async (c) => {
    const accept = c.req.header("Accept") ?? "*/*";
    if (!/text\/event-stream|\*\/\*/.test(accept))
      throw new ApiError("not_acceptable", "The event stream is served as text/event-stream: send 'Accept: text/event-stream'.");
    const format = c.req.query("plan-format") ?? "full";
    if (!/^(full|light)$/i.test(format))
      throw new ApiError("malformed", `Query parameter 'plan-format' must be full or light, not '${format.slice(0, 32)}'.`, [
        { path: "plan-format", errors: ["must be full or light"] },
      ]);
    const remote = c.req.header("CF-Connecting-IP") ?? "127.0.0.1";
    const stream = await cluster(c).marathonEvents(list(c, "event_type"), remote, format.toLowerCase() === "light");
    if (stream === null)
      throw new ApiError(
        "rate_limited",
        `The cluster already serves ${MAX_EVENT_SUBSCRIBERS} event streams (MAX_EVENT_SUBSCRIBERS); close one or try again later.`,
        [],
        { "Retry-After": "30" },
      );
    return new Response(stream, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" } });
  });
