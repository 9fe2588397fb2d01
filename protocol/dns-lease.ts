/**
 * The DNS lease: how the cluster's names stay exact while the Worker answers them from a cached
 * zone snapshot, without asking the Cluster object for each query.
 *
 * - A snapshot of the zone is trusted for DNS_LEASE_MS from the moment the request that
 *   confirmed it began; after that the Worker confirms it again (one small RPC per isolate, not
 *   per query).
 * - A negative answer (NXDOMAIN, NODATA) is never taken from a leased snapshot: it is confirmed
 *   by a request begun after the question arrived, so a task's names answer from the moment the
 *   object commits TASK_RUNNING.
 * - A positive answer may be DNS_LEASE_MS old, so an agent that is told to kill a task which
 *   was RUNNING waits DNS_DRAIN_MS before it signals the process: by then no resolver of the
 *   cluster (Worker or agent forwarder) still hands out its address.
 *
 * The DoH answer says how much of its lease is left (DNS_LEASE_HEADER, in ms) so the agents'
 * forwarders keep an answer no longer than the Worker may.
 */
export const DNS_LEASE_MS = 1_000;
/** The lease, plus room for the answer's trip from the Worker to a forwarder. */
export const DNS_DRAIN_MS = DNS_LEASE_MS + 250;
/** Milliseconds left of the lease of the snapshot an answer came from; 0 for confirmed negatives. */
export const DNS_LEASE_HEADER = "DCX-DNS-Lease-Ms";
