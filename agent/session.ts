import { CloseCode, MasterMessage, PING, PONG, launchTaskByTask, parseFrame } from "../protocol/index.ts";
import type { AgentMessage, Register, Registered } from "../protocol/index.ts";
import { errorMessage } from "./log.ts";
import type { Logger } from "./log.ts";
import type { MasterCommand } from "./task-host.ts";

/** The master counts as gone after this many ping intervals without any frame from it. */
export const MISSED_PINGS_BEFORE_TIMEOUT = 3;
/** How long a close waits for the master's close frame before dropping the connection. */
export const CLOSE_GRACE_MS = 500;
/** Close code sent when handling `registered` failed on the agent's side. */
const INTERNAL_ERROR = 1011;

export interface SessionOptions {
  url: string;
  /** Value of the `Authorization: Bearer` header: the credential, or the join token. */
  bearer: string;
  /** Builds the `register` frame when the socket opens, so it reports the tasks of that moment. */
  register: () => Register;
  /** Limit on opening the socket and receiving `registered`. */
  registerTimeoutMs: number;
  /** Runs before the session counts as registered; a throw ends the session as fatal. */
  onRegistered: (message: Registered) => void;
  onCommand: (message: MasterCommand) => void;
  /** The master's reconnect window grew (a `window` frame): the first reconnect after a drop spreads over it. */
  onWindow?: (reconnectWindowMs: number) => void;
  /** A binary frame from the master (the service proxy's data, protocol/proxy.ts). */
  onBinary?: (frame: Uint8Array) => void;
  /** Runs once the session counts as registered, with the ways to send frames in it. */
  onUp: (send: (message: AgentMessage) => void, sendBinary: (frame: Uint8Array) => void) => void;
  log: Logger;
}

/** How a session ended. */
export interface SessionEnd {
  code: number;
  reason: string;
  /** Whether the master answered `register` in this session. */
  registered: boolean;
  /** True when the agent ended the session (heartbeat timeout, shutdown), not the master. */
  byAgent: boolean;
  /** Why the socket failed, when it failed rather than closed. */
  error?: string;
  /** An agent-side failure the agent cannot go on from (e.g. its identity could not be saved). */
  fatal?: Error;
  /** The master turned the registration away (`retry`): connect again after this many ms. */
  retryAfterMs?: number;
}

/**
 * One WebSocket session with the master: open, register, heartbeat, dispatch frames. It never
 * reconnects; the Connection starts a new Session for that.
 */
export class Session {
  /** Resolves once, when the session is over for the agent (even if the socket lingers). */
  readonly ended: Promise<SessionEnd>;
  private resolveEnded: (end: SessionEnd) => void = () => {};
  private readonly closed: Promise<void>;
  private resolveClosed: () => void = () => {};
  private readonly ws: WebSocket | undefined;
  private done = false;
  private registered = false;
  private socketError: string | undefined;
  private retryAfterMs: number | undefined;
  private lastFrameAt = performance.now();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private pinger: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: SessionOptions) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    try {
      this.ws = new WebSocket(options.url, { headers: { Authorization: `Bearer ${options.bearer}` } });
    } catch (error) {
      this.resolveClosed();
      this.finish({ code: 1006, reason: "", byAgent: true, error: errorMessage(error) });
      return;
    }
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => this.onOpen();
    this.ws.onmessage = (event) => this.onMessage(event.data);
    this.ws.onerror = (event) => (this.socketError = event instanceof ErrorEvent ? event.message : "websocket error");
    this.ws.onclose = (event) => {
      this.resolveClosed();
      this.finish({ code: event.code, reason: event.reason, byAgent: false, error: this.socketError });
    };
    this.after(options.registerTimeoutMs, () => {
      if (!this.registered) void this.close(CloseCode.TIMEOUT, `not registered within ${options.registerTimeoutMs} ms`);
    });
  }

  /** Sends one frame; dropped once the session is over or the socket is not open, since the master re-syncs on register. */
  send(message: AgentMessage): void {
    if (this.done) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Sends one binary frame (proxy data); dropped like `send` once the session is over. */
  sendBinary(frame: Uint8Array): void {
    if (this.done) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /**
   * Ends the session from the agent's side now, and resolves once the close handshake completes
   * or CLOSE_GRACE_MS passes, whichever is first (a dead peer never answers).
   */
  async close(code: number, reason: string): Promise<void> {
    this.finish({ code, reason, byAgent: true });
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    if (ws.readyState !== WebSocket.CLOSING) ws.close(code, reason);
    const grace = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), CLOSE_GRACE_MS).unref());
    if ((await Promise.race([this.closed, grace])) === "timeout") ws.terminate();
  }

  private onOpen(): void {
    if (this.done) return;
    this.options.log.info("connected", { url: this.options.url });
    this.send(this.options.register());
  }

  private onMessage(data: unknown): void {
    if (this.done) return;
    // Any frame proves the master is alive, not just `pong`.
    this.lastFrameAt = performance.now();
    if (data === PONG) return;
    if (typeof data !== "string") {
      if (this.registered && this.options.onBinary && (data instanceof ArrayBuffer || data instanceof Uint8Array)) this.options.onBinary(new Uint8Array(data));
      else this.options.log.warn("frame_invalid", { message: "binary frame outside a proxy stream" });
      return;
    }
    const parsed = parseFrame(MasterMessage, data);
    if (!parsed.ok) {
      // The agent has no `error` frame to answer with; the master learns nothing, the log does.
      this.options.log.warn("frame_invalid", { message: parsed.message, details: parsed.details?.map(({ path, errors }) => ({ path, errors })) });
      if (this.registered) this.launchReadable(data);
      return;
    }
    const message = parsed.value;
    if (message.type === "registered") this.onRegistered(message);
    else if (message.type === "retry") this.onRetry(message.retryAfterMs, message.message);
    else if (message.type === "window") this.options.onWindow?.(message.reconnectWindowMs);
    else if (message.type === "error") this.options.log.warn("master_error", { message: message.message });
    else this.dispatch(message);
  }

  /**
   * A launch frame that failed as a whole, read task by task: the tasks that match the protocol
   * launch, each of the others is refused alone (the master hears TASK_ERROR for it).
   */
  private launchReadable(data: string): void {
    const apart = launchTaskByTask(data);
    if (apart === undefined) return;
    if (apart.tasks.length > 0) this.dispatch({ type: "launch", tasks: apart.tasks });
    if (apart.refused.length > 0) this.dispatch({ type: "launchRefused", tasks: apart.refused });
  }

  /** Hands a task frame to the task host; a failing handler is logged, never fatal to the session. */
  private dispatch(command: MasterCommand): void {
    try {
      this.options.onCommand(command);
    } catch (error) {
      this.options.log.error("command_failed", { type: command.type, error: errorMessage(error) });
    }
  }

  /** The master admits registrations at a rate and this one came over it: it closes next, and names when to come back. */
  private onRetry(retryAfterMs: number, message: string): void {
    if (this.registered) return;
    this.retryAfterMs = retryAfterMs;
    this.options.log.info("registration_deferred", { retryAfterMs, message });
  }

  private onRegistered(message: Registered): void {
    if (this.registered) {
      this.options.log.warn("frame_invalid", { message: "duplicate registered frame ignored" });
      return;
    }
    try {
      // The credential must be on disk before the session counts as established: a crash after
      // this point must not leave a registered agent that cannot prove who it is.
      this.options.onRegistered(message);
    } catch (error) {
      const fatal = error instanceof Error ? error : new Error(String(error));
      this.finish({ code: INTERNAL_ERROR, reason: "agent could not save its identity", byAgent: true, fatal });
      this.ws?.close(INTERNAL_ERROR, "agent could not save its identity");
      return;
    }
    this.registered = true;
    this.options.log.info("registered", { agentId: message.agentId, pingIntervalMs: message.pingIntervalMs });
    this.startHeartbeat(message.pingIntervalMs);
    try {
      this.options.onUp(
        (frame) => this.send(frame),
        (frame) => this.sendBinary(frame),
      );
    } catch (error) {
      this.options.log.error("session_up_failed", { error: errorMessage(error) });
    }
  }

  private startHeartbeat(intervalMs: number): void {
    this.lastFrameAt = performance.now();
    this.pinger = setInterval(() => this.ws?.readyState === WebSocket.OPEN && this.ws.send(PING), intervalMs);
    this.watch(intervalMs * MISSED_PINGS_BEFORE_TIMEOUT);
  }

  /** Fires at the deadline of the last frame, re-arming while frames keep arriving. */
  private watch(timeoutMs: number): void {
    const remaining = this.lastFrameAt + timeoutMs - performance.now();
    this.after(Math.max(0, remaining), () => {
      const silentMs = Math.round(performance.now() - this.lastFrameAt);
      if (silentMs < timeoutMs) return this.watch(timeoutMs);
      this.options.log.warn("heartbeat_timeout", { silentMs, timeoutMs });
      void this.close(CloseCode.TIMEOUT, `no frame from the master for ${silentMs} ms`);
    });
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.done) run();
    }, ms);
    this.timers.add(timer);
  }

  private finish(end: Omit<SessionEnd, "registered" | "retryAfterMs">): void {
    if (this.done) return;
    this.done = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    clearInterval(this.pinger);
    const retry = this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs };
    this.resolveEnded({ ...end, registered: this.registered, ...retry });
  }
}
