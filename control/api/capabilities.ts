import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";

/**
 * DC/OS's `/capabilities` (Cosmos), which the DC/OS CLI reads to decide what a cluster can do.
 * DCX names only what it has: `PACKAGE_MANAGEMENT` (Cosmos's `/package/*`) and `METRONOME`
 * (jobs at `/service/metronome`). No `LOGGING_V2`: its task logs are at `/v2/tasks/{id}/logs`,
 * not DC/OS's `/system/v1/logs`.
 */
export const CAPABILITIES = ["PACKAGE_MANAGEMENT", "METRONOME"] as const;

export const capabilityRoutes = new Hono<AppEnv>().get("/", (c) =>
  c.json({ capabilities: CAPABILITIES.map((name) => ({ name })) }, 200, { "Content-Type": "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1" }),
);
