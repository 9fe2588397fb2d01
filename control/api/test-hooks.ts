import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { clusterStub } from "../cluster-stub.ts";
import { gatewayName } from "../gateway/wire.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";

/**
 * Hooks for benchmarks and tests that fault the control plane on purpose. They exist only while
 * the Worker var DCX_TEST_HOOKS is "on" (never in production); otherwise they are not found.
 */
const testHooksOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (String(c.env.DCX_TEST_HOOKS) !== "on") throw new ApiError("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`);
  await next();
});

/**
 * Resets every Durable Object serving the cluster, as a deploy of new code does: their memory is
 * lost, every WebSocket they hold drops, their storage stays. Returns the objects reset. Objects
 * that come to serve a cluster (gateways holding its agents' sockets) are reset here too.
 */
export async function resetClusterObjects(env: Env, clusterId: string): Promise<string[]> {
  const gateways = await clusterStub(env, clusterId).gatewayCount();
  const names = Array.from({ length: gateways }, (_, n) => gatewayName(clusterId, n));
  const stubs = names.map((name) => env.AGENT_GATEWAY.getByName(name));
  // The Cluster object is aborted under the call (its RPC always fails, which is the point); the
  // gateways lose their memory and the sockets they hold at this moment.
  const aborted = clusterStub(env, clusterId)
    .testReset()
    .catch(() => undefined);
  await Promise.all([aborted, ...stubs.map((gateway) => gateway.testReset())]);
  // Their sockets drop a gateway at a time, a slice a turn (gateway.ts, testResetClose): local
  // workerd closes each on the one thread that also answers the API.
  for (const gateway of stubs) await gateway.testResetClose();
  return ["cluster", ...names];
}

/** `POST /c/:cluster/debug/reset`: resetClusterObjects, for a reconnect-storm benchmark or test. */
export const testHookRoutes = new Hono<AppEnv>().post("/reset", testHooksOnly, async (c) =>
  c.json({ reset: await resetClusterObjects(c.env, c.get("cluster").id) }, 202),
);
