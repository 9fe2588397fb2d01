import { Hono } from "hono";
import { z } from "zod";
import { MESOS_API_VERSION } from "../master.ts";
import { MAX_EVENT_SUBSCRIBERS } from "../../cluster/events.ts";
import { ApiError, notFound, validationError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { jsonBody } from "../../http/middleware.ts";
import { normalizeAppId } from "../../cluster/frameworks/marathon/app-definition.ts";
import { appRoutes, plainText, wantsText } from "./apps.ts";
import { groupRoutes } from "./groups.ts";
import { acting, cluster, deploymentResponse, flag, killScales, unwrap } from "./outcome.ts";

/** The Marathon version whose API shapes `/v2` follows. */
export const MARATHON_API_VERSION = "1.11.0";

/** Marathon's `?status=` filter: `running` and `staging` (any case); other values are ignored, as Marathon ignores them. */
const STATUS_FILTERS: Readonly<Record<string, string>> = { running: "TASK_RUNNING", staging: "TASK_STAGING" };
const taskStates = (values: string[]) => values.flatMap((v) => STATUS_FILTERS[v.toLowerCase()] ?? []);

const TaskIds = z.strictObject({ ids: z.array(z.string().min(1)).min(1).max(10_000) });

/** Marathon's REST API (`/v2`), under `/c/:cluster`. */
export const marathonRoutes = new Hono<AppEnv>()
  .route("/apps", appRoutes)
  .route("/groups", groupRoutes)
  .get("/tasks", async (c) => {
    if (wantsText(c)) return plainText(c, (await cluster(c).marathonTasksText()) ?? "");
    const wanted = taskStates([...(c.req.queries("status") ?? []), ...(c.req.queries("status[]") ?? [])]);
    const tasks = await cluster(c).marathonTasks();
    return c.json({ tasks: wanted.length ? tasks.filter((t) => wanted.includes(t.state)) : tasks });
  })
  .post("/tasks/delete", jsonBody(TaskIds), async (c) => {
    const result = unwrap(await acting(c).marathonKill(c.req.valid("json").ids, killScales(c)));
    if (result.deployment) return deploymentResponse(c, result.deployment);
    return c.json({ tasks: result.tasks });
  })
  .get("/deployments", async (c) => c.json(await cluster(c).marathonDeployments()))
  .get("/deployments/:id", async (c) => {
    const d = (await cluster(c).marathonDeployments()).find((x) => x.id === c.req.param("id"));
    if (!d) throw notFound(`DeploymentPlan ${c.req.param("id")} does not exist`);
    return c.json(d);
  })
  .delete("/deployments/:id", async (c) => {
    const force = flag(c, "force");
    const result = unwrap(await acting(c).marathonCancelDeployment(c.req.param("id"), force));
    if (force || !result) return c.body(null, 202);
    return deploymentResponse(c, result);
  })
  .get("/queue", async (c) => c.json({ queue: await cluster(c).marathonQueue() }))
  .delete("/queue/*", async (c) => {
    const m = /\/v2\/queue(\/.+)\/delay$/.exec(c.req.path);
    if (!m?.[1]) throw new ApiError("not_found", `No route for DELETE ${c.req.path}.`);
    let id: string;
    try {
      id = normalizeAppId(m[1]);
    } catch (err) {
      throw validationError([{ path: "/id", errors: [String(err instanceof Error ? err.message : err)] }]);
    }
    unwrap(await acting(c).marathonResetDelay(id));
    return c.body(null, 204);
  })
  .get("/info", (c) => {
    const host = new URL(c.req.url).host;
    return c.json({
      name: "marathon",
      version: MARATHON_API_VERSION,
      buildref: "dcx",
      elected: true,
      leader: host,
      frameworkId: `${c.get("cluster").id}-marathon`,
      marathon_config: {
        master: `dcx://${host}/c/${c.get("cluster").id}`,
        mesos_version: MESOS_API_VERSION,
        decline_offer_duration: 5000,
        local_port_min: 10000,
        local_port_max: 20000,
        task_launch_timeout: 300000,
        mesos_role: "*",
      },
      http_config: { http_port: 443, https_port: 443 },
    });
  })
  .get("/leader", (c) => c.json({ leader: new URL(c.req.url).host }))
  .get("/events", async (c) => {
    const accept = c.req.header("Accept") ?? "*/*";
    if (!/text\/event-stream|\*\/\*/.test(accept)) throw new ApiError("not_acceptable", "The event stream is served as text/event-stream: send 'Accept: text/event-stream'.");
    const types = c.req.queries("event_type") ?? [];
    const stream = await cluster(c).marathonEvents(types, c.req.header("CF-Connecting-IP") ?? "127.0.0.1");
    if (stream === null) throw new ApiError("rate_limited", `The cluster already serves ${MAX_EVENT_SUBSCRIBERS} event streams (MAX_EVENT_SUBSCRIBERS); close one or try again later.`, [], { "Retry-After": "30" });
    return new Response(stream, { headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" } });
  });
