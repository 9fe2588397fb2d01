import { Hono, type Context } from "hono";
import { z } from "zod";
import { ApiError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { jsonBody } from "../../http/middleware.ts";
import { MARATHON } from "../../cluster/frameworks/marathon/demand.ts";
import { cluster } from "./outcome.ts";
import { dropwizardMetrics } from "../dropwizard.ts";

/** The Marathon version whose API shapes `/v2` follows. */
export const MARATHON_API_VERSION = "1.11.0";

/**
 * Marathon's `features` that DCX has: `task_killing` (tasks pass through TASK_KILLING).
 * It has no VIP load balancer in the control plane, no external volumes, secrets or GPUs.
 */
export const MARATHON_FEATURES = ["task_killing"] as const;

const hostOf = (c: Context<AppEnv>) => new URL(c.req.url).host;

/**
 * `GET /v2/info`: Marathon's fields only (settings DCX has no counterpart for, such as the
 * leader proxy's timeouts, are left out), with the values that describe DCX: no ZooKeeper
 * (`zookeeper_config.zk` is null; clients expect the object), always elected, its timers in
 * milliseconds as Marathon gives them.
 */
export function marathonInfo(c: Context<AppEnv>) {
  const host = hostOf(c);
  const clusterId = c.get("cluster").id;
  return {
    name: "marathon",
    version: MARATHON_API_VERSION,
    buildref: "dcx",
    elected: true,
    leader: host,
    frameworkId: `${clusterId}-marathon`,
    marathon_config: {
      master: `${new URL(c.req.url).origin}/c/${clusterId}/mesos`,
      framework_name: "marathon",
      hostname: new URL(c.req.url).hostname,
      webui_url: null,
      mesos_leader_ui_url: `${new URL(c.req.url).origin}/c/${clusterId}/mesos`,
      mesos_role: "*",
      mesos_user: null,
      features: [...MARATHON_FEATURES],
      ha: true,
      checkpoint: true,
      failover_timeout: 604800,
      executor: "//cmd",
      local_port_min: 10000,
      local_port_max: 20000,
      decline_offer_duration: 5000,
      task_launch_timeout: 300000,
      new_group_enforce_role: "off",
    },
    zookeeper_config: { zk: null },
    http_config: { http_port: 443, https_port: 443 },
    event_subscriber: null,
  };
}

/** Marathon's `NewMetrics` (`types/newMetrics.raml`): gauges under Marathon's names. */
async function marathonMetrics(c: Context<AppEnv>) {
  const stub = cluster(c);
  const [snapshot, apps, deployments] = await Promise.all([stub.snapshot(), stub.marathonApps([]), stub.marathonDeployments()]);
  const marathonTasks = snapshot.tasks.filter((t) => t.framework === MARATHON);
  const inState = (state: string) => marathonTasks.filter((t) => t.state === state).length;
  // Groups are implied by app ids: `/a/b/web` makes `/a` and `/a/b`; the root is counted below.
  const groups = new Set(
    apps.flatMap((a) =>
      a.id
        .split("/")
        .slice(1, -1)
        .map((_, i, segments) => "/" + segments.slice(0, i + 1).join("/")),
    ),
  );
  const gauges: Record<string, number> = {
    "marathon.apps.active.gauge": apps.length,
    "marathon.groups.active.gauge": groups.size + 1,
    "marathon.deployments.active.gauge": deployments.length,
    "marathon.instances.running.gauge": inState("TASK_RUNNING"),
    "marathon.instances.staged.gauge": inState("TASK_STAGING") + inState("TASK_STARTING"),
    "marathon.instances.launch-queue.size.gauge": apps.reduce((n, a) => n + Math.max(0, a.instances - a.tasksRunning - a.tasksStaged), 0),
    "marathon.tasks.running.gauge": inState("TASK_RUNNING"),
    "marathon.tasks.staged.gauge": inState("TASK_STAGING") + inState("TASK_STARTING"),
    "marathon.uptime.gauge.seconds": Math.floor((Date.now() - snapshot.createdAt) / 1000),
    "marathon.leadership.duration.gauge.seconds": Math.floor((Date.now() - snapshot.createdAt) / 1000),
  };
  return dropwizardMetrics(gauges);
}

const LEVELS = ["trace", "debug", "info", "warn", "error", "off"] as const;
const LoggerChange = z.strictObject({
  logger: z.string().min(1, { message: "must not be empty" }),
  level: z.string().refine((l) => (LEVELS as readonly string[]).includes(l.toLowerCase()), { message: `must be one of ${LEVELS.join(", ")}` }),
  durationSeconds: z.number().int().min(1).optional(),
});

/**
 * Marathon's system routes, at the service root (`/c/:cluster/ping`, `/metrics`, `/logging`):
 * `ping` answers `pong`; `/logging` lists loggers as Marathon's does. A Worker's log level is
 * part of its deployment (wrangler.toml), so a change through `POST /logging` is refused,
 * after the body is checked, rather than accepted and ignored.
 */
export const marathonSystemRoutes = new Hono<AppEnv>()
  .get("/ping", (c) => c.text("pong"))
  .get("/metrics", async (c) => c.json(await marathonMetrics(c)))
  .get("/logging", (c) => c.json({ ROOT: "INFO" }))
  .post("/logging", jsonBody(LoggerChange), () => {
    throw new ApiError("method_not_allowed", "DCX's log level is part of the Worker's deployment (wrangler.toml), not changed at run time.");
  });
