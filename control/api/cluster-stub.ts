import type { Actor } from "../cluster/audit.ts";

/** The Cluster Durable Object of a cluster: one object per cluster, named by the cluster id. */
export function clusterStub(env: Env, clusterId: string) {
  return env.CLUSTER.getByName(clusterId);
}

/**
 * The cluster's commands, acting for `actor`: every change made through them is written to the
 * cluster's audit log in the change's own transaction. Calls on it are pipelined: one round trip.
 */
export function actingStub(env: Env, clusterId: string, actor: Actor) {
  return clusterStub(env, clusterId).actingAs(actor);
}
