/** The Cluster Durable Object of a cluster: one object per cluster, named by the cluster id. */
export function clusterStub(env: Env, clusterId: string) {
  return env.CLUSTER.getByName(clusterId);
}
