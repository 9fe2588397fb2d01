import { CloseCode, type Retry } from "../../protocol/index.ts";

/**
 * Admission of agent sessions, decided where the socket arrives: at the agent's gateway, before
 * it is accepted. A deploy resets every object and every agent socket drops at once; the agents
 * spread their return over the window the master suggested (control/cluster/admission.ts), and
 * the gateways admit them at AGENT_ADMISSION_PER_SECOND for the whole cluster, each its share
 * (the rate over the cluster's G gateways: agents hash evenly over them). One over the rate waits
 * at its gateway until its turn (GatewayAdmission), unseen by the Cluster object; only one that
 * would wait too long is turned away before it is accepted, told a `retry` slot of its own and
 * closed with 1013. Admitting when the agent arrives, not when the object reaches its
 * registration, keeps a backlog from forming at the object at all: a bucket counted there refused
 * thousands of agents that had already cost their whole upgrade, because a backlog drains faster
 * than it came in.
 */

/** Registrations the cluster admits per second by default (the Worker var AGENT_ADMISSION_PER_SECOND; see README, "Reconnect storms"). */
export const DEFAULT_ADMISSION_PER_SECOND = 450;
/**
 * A gateway's bucket holds this many seconds of its share. Arrivals are counted as they come, so
 * the burst only has to absorb their randomness; a larger one lets a crowd in at once, queued in
 * front of the API at the object.
 */
export const BURST_SECONDS = 1;
/** The longest a refused agent is told to wait: beyond it the slots are not worth promising. */
export const MAX_RETRY_AFTER_MS = 300_000;
/**
 * The longest an agent over the rate is held at its gateway before its registration goes on; past
 * it the agent is turned away instead. Below the agent's register timeout (15 s, agent/connection.ts).
 */
export const MAX_HOLD_MS = 10_000;
/** A refused socket waits this long for the agent's first frame (its register says whether it understands `retry`). */
const FIRST_FRAME_WAIT_MS = 10_000;

/** The admission rate a Worker var asks for; the default when it is unset or not a positive number. */
export function admissionRate(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_ADMISSION_PER_SECOND;
}

/** A token bucket. Pure (the clock is passed in), so the arithmetic is tested without a runtime. It starts full. */
export class AdmissionBucket {
  private tokens: number;
  private refilledAt: number;
  /** Milliseconds between two tokens. */
  readonly slotMs: number;

  constructor(
    readonly perSecond: number,
    now: number,
    readonly burst: number = Math.max(1, perSecond * BURST_SECONDS),
  ) {
    this.tokens = burst;
    this.refilledAt = now;
    this.slotMs = 1000 / perSecond;
  }

  /** Takes one token if there is one now. */
  tryTake(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token (0 when there is one). */
  untilToken(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * this.slotMs);
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = Math.max(this.refilledAt, now);
  }
}

/**
 * One gateway's share of the cluster's rate, and its waiting room. An agent that arrives over the
 * rate is accepted and held, its frames with it, until a token comes up for it, in arrival
 * order: it costs its upgrade once, and the Cluster object sees it only when its turn comes.
 * Only when the wait would pass MAX_HOLD_MS (below an agent's register timeout) is an agent
 * turned away, with a slot after the queue has drained. The share follows G (the gateway count
 * the Worker routed the upgrade with); when G changes the bucket starts again at the new share.
 */
export class GatewayAdmission<E = unknown> {
  private bucket: AdmissionBucket | undefined;
  private readonly held = new Map<string, E[]>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The end of the last slot promised to an agent turned away. */
  private promisedUntil = 0;

  constructor(
    readonly clusterPerSecond: number,
    /** Hands on a held session's events (its open first) once its turn comes. */
    private readonly release: (events: E[]) => void,
    private readonly maxHoldMs = MAX_HOLD_MS,
  ) {}

  /** The bucket of a gateway among `gateways`. */
  bucketFor(gateways: number, now: number): AdmissionBucket {
    const share = this.clusterPerSecond / Math.max(1, gateways);
    if (this.bucket?.perSecond !== share) this.bucket = new AdmissionBucket(share, now);
    return this.bucket;
  }

  /** A session arrives with its open event: admitted now, held (its events kept here), or turned away with a slot. */
  arrive(sessionId: string, open: E, gateways: number, now: number): "admitted" | "held" | { retryAfterMs: number } {
    const bucket = this.bucketFor(gateways, now);
    if (this.held.size === 0 && bucket.tryTake(now)) return "admitted";
    const waitMs = bucket.untilToken(now) + this.held.size * bucket.slotMs;
    if (waitMs > this.maxHoldMs) {
      const at = Math.max(now + waitMs, this.promisedUntil);
      this.promisedUntil = at + bucket.slotMs;
      return { retryAfterMs: Math.min(MAX_RETRY_AFTER_MS, Math.ceil(at - now)) };
    }
    this.held.set(sessionId, [open]);
    this.schedule(now);
    return "held";
  }

  /** Keeps a frame of a held session (returns false for a session not held: it goes on at once). */
  hold(sessionId: string, event: E): boolean {
    const events = this.held.get(sessionId);
    if (events) events.push(event);
    return events !== undefined;
  }

  /** A held session's socket closed before its turn: forgotten (nobody else knew of it). Returns whether it was held. */
  left(sessionId: string): boolean {
    return this.held.delete(sessionId);
  }

  /** Forgets every held session (their sockets are being closed). */
  clear(): void {
    this.held.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Sessions waiting for their turn. */
  get waiting(): number {
    return this.held.size;
  }

  private schedule(now: number): void {
    if (this.timer !== undefined || this.held.size === 0 || !this.bucket) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.releaseDue(Date.now());
    }, this.bucket.untilToken(now));
  }

  private releaseDue(now: number): void {
    for (const [sessionId, events] of this.held) {
      if (!this.bucket?.tryTake(now)) break;
      this.held.delete(sessionId);
      this.release(events);
    }
    this.schedule(now);
  }
}

/** Whether an agent's first frame is a register that carries `resume`: the mark of an agent that understands `retry`. */
export function understandsRetry(frame: unknown): boolean {
  if (typeof frame !== "string") return false;
  try {
    const parsed: unknown = JSON.parse(frame);
    return typeof parsed === "object" && parsed !== null && Reflect.get(parsed, "type") === "register" && typeof Reflect.get(parsed, "resume") === "object";
  } catch {
    return false;
  }
}

/**
 * The answer to an upgrade over the rate: a plain (not hibernated) socket that waits for the
 * agent's register, sends `retry` to an agent that understands it (an older one gets the close
 * alone, and backs off), and closes with TRY_AGAIN_LATER.
 */
export function refuseUpgrade(retryAfterMs: number, perSecond: number): Response {
  const message = `registrations are admitted at ${Math.round(perSecond)}/s: try again in ${retryAfterMs} ms`;
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  const close = () => {
    clearTimeout(timer);
    try {
      server.close(CloseCode.TRY_AGAIN_LATER, message);
    } catch {
      // The agent is gone already.
    }
  };
  const timer = setTimeout(close, FIRST_FRAME_WAIT_MS);
  server.addEventListener(
    "message",
    (event) => {
      const retry: Retry = { type: "retry", retryAfterMs, message };
      try {
        if (understandsRetry(event.data)) server.send(JSON.stringify(retry));
      } catch {
        // The agent is gone already.
      }
      close();
    },
    { once: true },
  );
  server.addEventListener("close", () => clearTimeout(timer), { once: true });
  return new Response(null, { status: 101, webSocket: client });
}
