import { clusterStub } from "../cluster-stub.ts";
import { gatewayFor, gatewayName } from "./wire.ts";

/**
 * How long this isolate trusts its copy of a cluster's gateway count (G), unless
 * GATEWAY_COUNT_TTL_MS says otherwise. A stale copy is smaller than G (G only grows), so it
 * still names a gateway the Cluster object knows: an agent routed by it is served as well, on a
 * gateway that holds a little more than its share until it next reconnects.
 */
const DEFAULT_GATEWAY_COUNT_TTL_MS = 10_000;

const counts = new Map<string, { count: Promise<number>; at: number }>();

/** The cluster's gateway count, from this isolate's copy or one RPC to the Cluster object (shared by concurrent connects). */
function gatewayCount(env: Env, clusterId: string, now = Date.now()): Promise<number> {
  const configured = Number(env.GATEWAY_COUNT_TTL_MS);
  const ttlMs = Number.isFinite(configured) ? configured : DEFAULT_GATEWAY_COUNT_TTL_MS;
  const cached = counts.get(clusterId);
  if (cached && now - cached.at < ttlMs) return cached.count;
  const count = clusterStub(env, clusterId)
    .gatewayCount()
    .catch((error: unknown) => {
      counts.delete(clusterId);
      throw error;
    });
  // Bounded: copies of clusters not connected to lately are dropped when the map grows.
  if (counts.size >= 10_000) counts.clear();
  counts.set(clusterId, { count, at: now });
  return count;
}

/**
 * The gateway object an agent's upgrade goes to: `key` (its id, or a join session's random key)
 * hashed over the cluster's gateways; with the gateway count it was hashed over (G).
 */
export async function gatewayRoute(env: Env, clusterId: string, key: string) {
  const gateways = await gatewayCount(env, clusterId);
  return { stub: env.AGENT_GATEWAY.getByName(gatewayName(clusterId, gatewayFor(key, gateways))), gateways };
}
