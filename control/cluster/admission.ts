import { CloseCode } from "../../protocol/index.ts";
import { countAgents } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import type { ReconnectGrace } from "./liveness.ts";
import { increment } from "./meta.ts";
import { type AgentLink, closeQuietly, send } from "./sessions.ts";

/**
 * Admission of agent registrations. A deploy resets the Cluster object and every agent socket
 * drops at once; each registration then costs the object a transaction and its frames. Two
 * halves keep such a storm within what one object sustains while the API keeps answering:
 * - the agents spread their first reconnect over a window (full jitter) the master suggests in
 *   `registered`: the cluster's agent count over the admission rate, so they arrive at about
 *   the rate the object admits (Nomad sizes its heartbeat TTL the same way: N / max rate);
 * - the object admits at most AGENT_ADMISSION_PER_SECOND (a token bucket, BURST_SECONDS of burst);
 *   a registration over it is refused before anything is written, with a `retry` frame naming a
 *   slot of its own (refused agents get successive slots, 1/rate apart, so they do not come back
 *   together) and a 1013 close.
 * The window does the spreading and refusals are kept for real excess: a refused agent has
 * already cost its upgrade (the Worker's credential check, the object's accept), about as much
 * as a registration, so shedding load after the upgrade saves little. Measured: also refusing
 * registrations that had waited in the object's queue (a delay signal, the rate halved on it)
 * tripled the storm's runtime CPU per agent and made it slower, API latency included.
 */

/**
 * Registrations the object admits per second by default. Measured on the local stack (bench
 * `scale`, storm phase, 3,000 agents): a known agent's reconnect costs the runtime 3.5 ms of CPU,
 * half of it the object's (its upgrade and its register; the rest is the Worker's), so 300/s
 * holds the object about half busy and leaves the rest to the API; 10,000 agents are back in
 * about 33 s. Cloudflare's guidance for an object writing storage is 200–500 requests a second.
 * Where the Worker shares the object's thread (locally), the rate must cover both: see README.
 */
export const DEFAULT_ADMISSION_PER_SECOND = 300;
/**
 * The bucket holds this many seconds of the rate. Registrations reach the bucket when the object
 * gets to them, not when agents send them: a backlog the object works off comes through faster
 * than it arrived, and refusing it would cost each agent a second upgrade for nothing. The
 * window spreads arrivals; the bucket only stops gross excess (agents from before the window).
 */
export const BURST_SECONDS = 5;
/** The longest a refused agent is told to wait: beyond it the slots are not worth promising. */
export const MAX_RETRY_AFTER_MS = 300_000;
/** Bounds of the suggested reconnect window: a small cluster still jitters over half a second (the agent's backoff base). */
export const MIN_RECONNECT_WINDOW_MS = 500;
export const MAX_RECONNECT_WINDOW_MS = 300_000;
/**
 * After a restart, agents whose socket it dropped are not declared unreachable before this (plus
 * the liveness timeout), as Nomad gives its nodes `failover_heartbeat_ttl` (5 minutes) after a
 * leader failover: a socket lost to a deploy is not tasks lost.
 */
export const RESTART_GRACE_MS = 300_000;
/** How long the agent count behind the window is reused before it is counted again. */
const COUNT_TTL_MS = 10_000;

export type Admission = { admitted: true } | { admitted: false; retryAfterMs: number };

/**
 * A token bucket that also hands each refused caller its own retry slot. Pure (the clock is
 * passed in), so the arithmetic is tested without a runtime. Its state lives in memory: it
 * starts full when the object starts, which is when a storm begins.
 */
export class AdmissionBucket {
  private tokens: number;
  private refilledAt: number;
  /** The end of the last retry slot handed out: the next refusal is sent after it. */
  private promisedUntil = 0;
  private readonly slotMs: number;

  constructor(
    readonly perSecond: number,
    now: number,
    readonly burst: number = Math.max(1, perSecond * BURST_SECONDS),
  ) {
    this.tokens = burst;
    this.refilledAt = now;
    this.slotMs = 1000 / perSecond;
  }

  /** Takes one token now, or says in how many ms to try again. */
  take(now: number): Admission {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = Math.max(this.refilledAt, now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { admitted: true };
    }
    const tokenAt = now + (1 - this.tokens) * this.slotMs;
    const at = Math.max(tokenAt, this.promisedUntil);
    this.promisedUntil = at + this.slotMs;
    return { admitted: false, retryAfterMs: Math.min(MAX_RETRY_AFTER_MS, Math.ceil(at - now)) };
  }
}

/** The first-reconnect window for a cluster of `agents` admitted at `perSecond`: long enough that they arrive at about that rate. */
export function reconnectWindowMs(agents: number, perSecond: number): number {
  const spread = Math.ceil((agents / perSecond) * 1000);
  return Math.min(MAX_RECONNECT_WINDOW_MS, Math.max(MIN_RECONNECT_WINDOW_MS, spread));
}

/** The admission rate a Worker var asks for; the default when it is unset or not a positive number. */
export function admissionRate(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_ADMISSION_PER_SECOND;
}

/** The Cluster object's admission of registrations: the bucket, and the window it suggests. */
export class AgentAdmission {
  private readonly bucket: AdmissionBucket;
  private counted: { agents: number; at: number } | undefined;
  /** When this object started: a restart dropped every agent socket it held. */
  private readonly startedAt = Date.now();
  /** The agents found without their socket since the start (filled by the liveness sweep). */
  private readonly grace: ReconnectGrace = { until: 0, lost: new Set() };

  constructor(
    private readonly db: ClusterDb,
    readonly perSecond: number,
    burst?: number,
  ) {
    this.bucket = new AdmissionBucket(perSecond, Date.now(), burst);
  }

  /**
   * Admits one registration, or refuses it before anything is written: a `retry` frame (to an
   * agent whose register carried `resume`, the mark of one that understands it), then a close
   * with TRY_AGAIN_LATER. Returns whether the registration may go on.
   */
  admit(ws: AgentLink, understandsRetry: boolean, now: number): boolean {
    const admission = this.bucket.take(now);
    if (admission.admitted) return true;
    const message = `registrations are admitted at ${this.perSecond}/s: try again in ${admission.retryAfterMs} ms`;
    if (understandsRetry) send(ws, { type: "retry", retryAfterMs: admission.retryAfterMs, message });
    closeQuietly(ws, CloseCode.TRY_AGAIN_LATER, message);
    increment(this.db, "counter:slave_registrations_deferred");
    return false;
  }

  /**
   * The time agents whose socket this object's restart dropped are given to come back before
   * the liveness timeout starts counting (liveness.ts): the reconnect window, and at least
   * RESTART_GRACE_MS, since a storm may take longer than its window when the object is slower
   * than its rate. Declaring them unreachable meanwhile would replace tasks that never stopped.
   */
  reconnectGrace(now: number): ReconnectGrace {
    this.grace.until = this.startedAt + Math.max(RESTART_GRACE_MS, this.reconnectWindowMs(now));
    return this.grace;
  }

  /** The window to suggest in `registered`, from the cluster's agent count (counted at most every COUNT_TTL_MS). */
  reconnectWindowMs(now: number): number {
    if (this.counted === undefined || now - this.counted.at >= COUNT_TTL_MS) this.counted = { agents: countAgents(this.db), at: now };
    return reconnectWindowMs(this.counted.agents, this.perSecond);
  }
}
