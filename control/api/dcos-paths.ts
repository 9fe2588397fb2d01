/**
 * Where the Worker mounts a cluster's API, and DC/OS's Admin Router paths under it. Each DC/OS
 * path serves again a service that the cluster root already serves (`/c/:cluster/service/
 * marathon/v2/apps` is `/c/:cluster/v2/apps`), so a tool written for a DC/OS cluster URL works
 * with `$DCX/c/$CLUSTER` as that URL. control/index.ts mounts the services at these paths, and
 * the OpenAPI document (control/openapi/aliases.ts) documents every route under them from the
 * route at the cluster root: the two read this one list, so they cannot drift apart.
 */

/** The cluster's API, as a Hono path. */
export const CLUSTER_ROOT = "/c/:cluster";

/** DC/OS's paths for the services the cluster root serves, relative to CLUSTER_ROOT. */
export const DCOS_PATHS = {
  marathon: "/service/marathon",
  metronome: "/service/metronome",
  mesos: "/mesos",
} as const;
