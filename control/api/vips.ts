import { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { cluster } from "./marathon/outcome.ts";

/**
 * `/c/:cluster/vips`: the VIP table every agent balances by, as the master last built it from
 * its tasks (DC/OS shows the same through dcos-net's `/v1/vips`). Read-only: VIPs come and go
 * with the `VIP_n` labels of apps' ports and with their tasks.
 */
export const vipRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const { range, vips } = await cluster(c).vipTable();
  return c.json({ range, vips });
});
