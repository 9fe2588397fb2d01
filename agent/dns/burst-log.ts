import type { Logger } from "../log.ts";
import type { UpstreamError } from "./upstream-error.ts";

/**
 * Logs `dns_upstream_error` once per burst: an unreachable upstream fails every query, and a
 * line per query would bury everything else. The first failure of each upstream is logged at
 * once; later ones within WINDOW_MS are counted, and the next line says how many were held back.
 */

export const DEFAULT_BURST_WINDOW_MS = 10_000;

interface Burst {
  loggedAtMs: number;
  suppressed: number;
}

/** See the module comment. */
export class BurstLog {
  private readonly bursts = new Map<string, Burst>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs: number = DEFAULT_BURST_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one failure; logs it unless this upstream was logged within the window. */
  report(error: UpstreamError): void {
    const now = this.now();
    const burst = this.bursts.get(error.upstream);
    if (burst !== undefined && now - burst.loggedAtMs < this.windowMs) {
      burst.suppressed += 1;
      return;
    }
    this.log.warn("dns_upstream_error", { upstream: error.upstream, error: error.message, suppressed: burst?.suppressed ?? 0 });
    this.bursts.set(error.upstream, { loggedAtMs: now, suppressed: 0 });
  }
}
