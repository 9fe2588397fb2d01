import { agentCountBound } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import type { ReconnectGrace } from "./liveness.ts";

/**
 * The Cluster object's half of surviving a reconnect storm (the gateways admit the agents as
 * they arrive: control/gateway/admission.ts). A deploy resets the object and every agent socket
 * drops at once; the agents spread their first reconnect over a window (full jitter) the master
 * suggests in `registered`: the cluster's agent count over the admission rate, so they arrive at
 * about the rate the gateways admit (Nomad sizes its heartbeat TTL the same way: N / max rate).
 * The count is the cluster's as the agent registers, not a copy some seconds old: agents joining
 * a growing cluster at hundreds a second were told the window of an empty one, and came back
 * together. And a socket lost to a restart is not tasks lost: the restart grace below.
 */

/** Bounds of the suggested reconnect window: a small cluster still jitters over half a second (the agent's backoff base). */
export const MIN_RECONNECT_WINDOW_MS = 500;
export const MAX_RECONNECT_WINDOW_MS = 300_000;
/**
 * After a restart, agents whose socket it dropped are not declared unreachable before this (plus
 * the liveness timeout), as Nomad gives its nodes `failover_heartbeat_ttl` (5 minutes) after a
 * leader failover: a socket lost to a deploy is not tasks lost.
 */
export const RESTART_GRACE_MS = 300_000;

/**
 * The window is announced again to every connected agent once it has grown by this factor since
 * it was last announced: an agent's window is then at least 1/ANNOUNCE_GROWTH of the cluster's,
 * for about log(N)/log(ANNOUNCE_GROWTH) frames per agent over the cluster's growth.
 */
export const ANNOUNCE_GROWTH = 1.25;

/** The first-reconnect window for a cluster of `agents` admitted at `perSecond`: long enough that they arrive at about that rate. */
export function reconnectWindowMs(agents: number, perSecond: number): number {
  const spread = Math.ceil((agents / perSecond) * 1000);
  return Math.min(MAX_RECONNECT_WINDOW_MS, Math.max(MIN_RECONNECT_WINDOW_MS, spread));
}

/** The window the Cluster object suggests to agents, and the grace it gives those a restart dropped. */
export class AgentAdmission {
  /** When this object started: a restart dropped every agent socket it held. */
  private readonly startedAt = Date.now();
  /** The agents found without their socket since the start (filled by the liveness sweep). */
  private readonly grace: ReconnectGrace = { until: 0, lost: new Set() };
  /**
   * The window last announced to the connected agents, or first told since this object started:
   * agents that registered before a restart register again after it, and are told it then.
   */
  private announced = 0;

  constructor(
    private readonly db: ClusterDb,
    /** The cluster's admission rate (its gateways' together). */
    readonly perSecond: number,
  ) {}

  /**
   * The time agents whose socket this object's restart dropped are given to come back before
   * the liveness timeout starts counting (liveness.ts): the reconnect window, and at least
   * RESTART_GRACE_MS, since a storm may take longer than its window when the object is slower
   * than its rate. Declaring them unreachable meanwhile would replace tasks that never stopped.
   */
  reconnectGrace(): ReconnectGrace {
    this.grace.until = this.startedAt + Math.max(RESTART_GRACE_MS, this.reconnectWindowMs());
    return this.grace;
  }

  /**
   * The window to announce to every connected agent, when `windowMs` (just told to a registering
   * agent) has grown by ANNOUNCE_GROWTH since it was last announced; otherwise undefined.
   */
  grown(windowMs: number): number | undefined {
    if (this.announced === 0) this.announced = windowMs;
    if (windowMs < this.announced * ANNOUNCE_GROWTH) return undefined;
    this.announced = windowMs;
    return windowMs;
  }

  /** The window to suggest in `registered`, from the cluster's agent count now (an upper bound, one indexed read). */
  reconnectWindowMs(): number {
    return reconnectWindowMs(agentCountBound(this.db), this.perSecond);
  }
}
