import { Hono, type Context } from "hono";
import { HOUR_MS, MINUTE_MS, type HistoryResolution } from "../cluster/history.ts";
import type { AppEnv } from "../http/env.ts";
import { clusterStub } from "../cluster-stub.ts";

async function samples(c: Context<AppEnv>, resolution: HistoryResolution) {
  const list = await clusterStub(c.env, c.get("cluster").id).history(resolution);
  return c.json({ resolution, intervalMs: resolution === "minute" ? MINUTE_MS : HOUR_MS, samples: list });
}

/** The history service under `/c/:cluster/history`: a sample per minute for 24 hours, per hour for 30 days. */
export const historyRoutes = new Hono<AppEnv>().get("/minute", (c) => samples(c, "minute")).get("/hour", (c) => samples(c, "hour"));
