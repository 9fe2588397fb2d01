/**
 * Reconnect delays: capped exponential backoff with full jitter (AWS Architecture Blog,
 * "Exponential Backoff and Jitter"). Full jitter spreads the reconnects of many agents that lost
 * the master at the same instant evenly over the window, instead of having them all retry in
 * lockstep and knock it over again.
 */

export const BACKOFF_BASE_MS = 500;
/** A master's retry-after is honoured with up to this share of it added at random (at most RETRY_JITTER_MAX_MS), so agents sent the same slot part. */
export const RETRY_JITTER_SHARE = 0.1;
export const RETRY_JITTER_MAX_MS = 1_000;
/**
 * The longest wait a master may ask of an agent, by its window or a retry-after: twice what the
 * control plane asks at most (control/cluster/admission.ts caps its window at 5 minutes), so a
 * master gone wrong cannot keep a machine's agent away for hours.
 */
export const MAX_MASTER_WAIT_MS = 600_000;

export interface BackoffOptions {
  baseMs?: number;
  capMs: number;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
}

/** The upper bound of the delay before retry number `attempt` (0-based): min(cap, base·2^attempt). */
export function backoffCeiling(attempt: number, baseMs: number, capMs: number): number {
  // 2 ** attempt becomes Infinity for huge attempts, and min() still yields the cap.
  return Math.min(capMs, baseMs * 2 ** attempt);
}

/** A delay drawn uniformly from [0, min(cap, base·2^attempt)]. */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, baseMs, capMs));
}

/**
 * Counts failed attempts and hands out the next delay; reset once a session succeeds. The first
 * delay after a reset is drawn from the first window: the base, or the longer window the master
 * suggested for its cluster (`registered.reconnectWindowMs`), so that every agent of a cluster
 * dropped at once does not come back at once. Later windows double from it, up to the cap (or
 * the master's window, if longer).
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;
  private windowMs = 0;

  constructor(options: BackoffOptions) {
    this.baseMs = options.baseMs ?? BACKOFF_BASE_MS;
    this.capMs = options.capMs;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call widens the window until the cap. */
  next(): number {
    const first = Math.max(this.baseMs, this.windowMs);
    const delay = fullJitterDelay(this.attempt, first, Math.max(this.capMs, this.windowMs), this.random);
    this.attempt += 1;
    return delay;
  }

  /** Takes the master's suggested first window (ms, at most MAX_MASTER_WAIT_MS); 0 goes back to the base. */
  setWindow(windowMs: number): void {
    this.windowMs = Math.min(MAX_MASTER_WAIT_MS, Math.max(0, windowMs));
  }

  /** The delay for a master's "try again in `askedMs`" (at most MAX_MASTER_WAIT_MS): that, plus a little jitter; the attempt count stays. */
  retryAfter(askedMs: number): number {
    const retryAfterMs = Math.min(MAX_MASTER_WAIT_MS, askedMs);
    const spread = Math.min(RETRY_JITTER_MAX_MS, retryAfterMs * RETRY_JITTER_SHARE);
    return retryAfterMs + Math.floor(this.random() * spread);
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Called when a session reaches `registered`: the next failure starts from the base again. */
  reset(): void {
    this.attempt = 0;
  }
}
