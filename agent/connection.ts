import { CloseCode } from "../protocol/index.ts";
import type { AgentMessage, Register, Registered } from "../protocol/index.ts";
import type { Backoff } from "./backoff.ts";
import type { Logger } from "./log.ts";
import { Session } from "./session.ts";
import type { SessionEnd } from "./session.ts";
import type { MasterCommand } from "./task-host.ts";

/** Default limit on opening the socket and getting `registered` back. */
export const DEFAULT_REGISTER_TIMEOUT_MS = 15_000;

/** Close codes after which retrying cannot help: the master will not take this agent back. */
const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.POLICY, CloseCode.REMOVED]);

/** What a close code means, for the `disconnected` log line. */
const CLOSE_MEANINGS: Readonly<Record<number, string>> = {
  [CloseCode.NORMAL]: "closed normally",
  [CloseCode.POLICY]: "credential or join token rejected",
  [CloseCode.REPLACED]: "replaced by another session of the same agent",
  [CloseCode.TIMEOUT]: "heartbeat timeout",
  [CloseCode.REMOVED]: "agent removed from the cluster",
  [CloseCode.RETRY]: "the master could not apply a frame; unacked updates are resent",
  [CloseCode.TRY_AGAIN_LATER]: "registration over the master's admission rate; retried when it said",
  1001: "the master is going away",
  1006: "connection lost or refused",
  1012: "the master is restarting",
};

/**
 * The master's agent endpoint for a cluster: `http(s)://host/base` becomes
 * `ws(s)://host/base/c/<cluster>/agent/connect`.
 */
export function agentConnectUrl(master: string, cluster: string): string {
  const url = new URL(master);
  url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/c/${encodeURIComponent(cluster)}/agent/connect`;
  return url.href;
}

export interface ConnectionOptions {
  url: string;
  /** Read before every attempt: the agent credential once there is one, else the join token. */
  bearer: () => string;
  /** Builds the `register` frame for each new session. */
  register: () => Register;
  /** Runs on `registered`, before heartbeats start; a throw stops the connection for good. */
  onRegistered: (message: Registered) => void;
  onCommand: (message: MasterCommand) => void;
  /** A binary frame from the master (the service proxy's data). */
  onBinary?: (frame: Uint8Array) => void;
  /** A session is registered: frames may be sent through `send` (and `sendBinary`) until `onSessionDown`. */
  onSessionUp: (send: (message: AgentMessage) => void, sendBinary: (frame: Uint8Array) => void) => void;
  /** The session that was up has ended. */
  onSessionDown: () => void;
  backoff: Backoff;
  log: Logger;
  registerTimeoutMs?: number;
}

/** How the connection has fared since the agent started (the agent's metrics). */
export interface ConnectionStats {
  /** Sessions opened, the first one included. */
  sessions: number;
  /** Sessions the master answered with `registered`. */
  registrations: number;
  /** Whether a registered session is up now. */
  up: boolean;
}

/** Why the connection stopped for good. */
export type ConnectionEnd = { kind: "stopped" } | { kind: "rejected"; code: number; reason: string } | { kind: "failed"; error: Error };

/**
 * Keeps one session with the master alive: after every disconnect it waits a backoff delay and
 * opens a new session, until stopped or told that retrying is pointless (1008, 4002).
 */
export class Connection {
  private stopping = false;
  private current: Session | undefined;
  private wake: (() => void) | undefined;
  private readonly counts: ConnectionStats = { sessions: 0, registrations: 0, up: false };

  constructor(private readonly options: ConnectionOptions) {}

  /** A copy of the session counts. */
  stats(): ConnectionStats {
    return { ...this.counts };
  }

  /** Runs sessions until the connection ends for good. */
  async run(): Promise<ConnectionEnd> {
    const { log, backoff } = this.options;
    while (!this.stopping) {
      const end = await this.runSession();
      if (this.stopping) break;
      if (end.fatal !== undefined) return { kind: "failed", error: end.fatal };
      if (!end.byAgent && FINAL_CLOSE_CODES.has(end.code)) return { kind: "rejected", code: end.code, reason: end.reason };
      // A session that got as far as `registered` proves the master healthy: start over from the
      // first window, a random delay in it (never at once: the whole cluster may have dropped together).
      if (end.registered) backoff.reset();
      // A master that turned the registration away named when to come back: its slot, not the backoff's.
      const delayMs = end.retryAfterMs === undefined ? backoff.next() : backoff.retryAfter(end.retryAfterMs);
      log.info("reconnect_scheduled", { delayMs, attempt: backoff.attempts, ...(end.retryAfterMs === undefined ? {} : { retryAfterMs: end.retryAfterMs }) });
      await this.sleep(delayMs);
    }
    return { kind: "stopped" };
  }

  /** Stops reconnecting and closes the live session, if any, with a normal close. */
  async stop(reason: string): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.current?.close(CloseCode.NORMAL, reason);
  }

  private async runSession(): Promise<SessionEnd> {
    const { log, url } = this.options;
    log.info("connecting", { url });
    this.counts.sessions++;
    const session = new Session({
      url,
      bearer: this.options.bearer(),
      register: this.options.register,
      registerTimeoutMs: this.options.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS,
      onRegistered: (message) => {
        // The master sizes the first-reconnect window to its cluster and admission rate.
        if (message.reconnectWindowMs !== undefined) this.options.backoff.setWindow(message.reconnectWindowMs);
        this.options.onRegistered(message);
      },
      onCommand: this.options.onCommand,
      // The window grew with the cluster since this agent registered.
      onWindow: (reconnectWindowMs) => this.options.backoff.setWindow(reconnectWindowMs),
      ...(this.options.onBinary ? { onBinary: this.options.onBinary } : {}),
      onUp: (send, sendBinary) => {
        this.counts.registrations++;
        this.counts.up = true;
        this.options.onSessionUp(send, sendBinary);
      },
      log,
    });
    this.current = session;
    const end = await session.ended;
    this.current = undefined;
    this.counts.up = false;
    if (end.registered) this.options.onSessionDown();
    const level = this.stopping || end.code === CloseCode.NORMAL ? "info" : "warn";
    log[level]("disconnected", {
      code: end.code,
      reason: end.reason,
      meaning: CLOSE_MEANINGS[end.code],
      byAgent: end.byAgent,
      registered: end.registered,
      error: end.error ?? end.fatal?.message,
    });
    return end;
  }

  /** Waits `ms`, or less if stop() is called meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => (this.wake = undefined));
  }
}
