import { MAX_LOG_FOLLOW_MS, type LogData, type Logs } from "../../protocol/index.ts";
import { type AgentLink, send } from "./sessions.ts";

/**
 * Relays task log requests to agents and their answers back to HTTP clients. A request goes
 * out as one `logs` frame on the agent's socket; its `logData` frames come back through
 * `webSocketMessage` and are written to a ReadableStream that the Worker returns as the
 * response body (plain text, or Server-Sent Events for a follow).
 *
 * Pending requests live in memory only. An open request keeps the object awake, but if the
 * object is evicted anyway, its requests fail with their HTTP connections, and the frames an
 * agent still sends for them are answered with `logsCancel`, which ends its follow.
 */

/** What a log request asks of the agent: the `logs` frame without its envelope. */
export type LogRequest = Omit<Logs, "type" | "requestId">;

/** The answer to opening a request: a body to stream, or why there is none. */
export type LogOpen =
  | { ok: true; body: ReadableStream<Uint8Array> }
  | { ok: false; code: "not_found" | "unavailable" | "bad_gateway" | "gateway_timeout" | "rate_limited"; message: string };

/** Why a follow's stream ended, in its final `end` event. */
export type FollowEnd = "task_ended" | "max_duration" | "agent_disconnected" | "agent_error" | "too_slow";

export interface LogRelayOptions {
  /** How long the agent has to answer (a one-shot request: to finish). */
  answerTimeoutMs?: number;
  /** A follow ends after this long. */
  maxFollowMs?: number;
  /** A follow writes a comment this often, and checks its agent's socket is still open. */
  keepAliveMs?: number;
  /** Requests open at once in this object. */
  maxRequests?: number;
}

interface Pending {
  requestId: string;
  ws: AgentLink;
  follow: boolean;
  /** Resolves the open() call; unset once it has been answered. */
  answer?: (result: LogOpen) => void;
  controller?: ReadableStreamDefaultController<Uint8Array>;
  /** The answer timeout, then a follow's time limit. */
  timer?: ReturnType<typeof setTimeout>;
  keepAlive?: ReturnType<typeof setInterval>;
}

const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;
const DEFAULT_KEEPALIVE_MS = 15_000;
const DEFAULT_MAX_REQUESTS = 200;
/** Output a client may leave unread before it is cut off (a follow of a chatty task). */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
const encoder = new TextEncoder();

/**
 * One Server-Sent Event. Output is sent as is: each line of it becomes a `data:` line, so a
 * client joining an event's lines with "\n" gets the chunk back (CR and CRLF arrive as LF).
 */
export function sseEvent(data: string, fields: { event?: string; id?: number } = {}): string {
  let out = fields.event === undefined ? "" : `event: ${fields.event}\n`;
  if (fields.id !== undefined) out += `id: ${fields.id}\n`;
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

export class LogRelay {
  private readonly pending = new Map<string, Pending>();
  private readonly answerTimeoutMs: number;
  private readonly maxFollowMs: number;
  private readonly keepAliveMs: number;
  private readonly maxRequests: number;

  constructor(options: LogRelayOptions = {}) {
    this.answerTimeoutMs = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    this.maxFollowMs = options.maxFollowMs ?? MAX_LOG_FOLLOW_MS;
    this.keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
  }

  /** Requests open now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Sends the request on the agent's socket; resolves with the body once the agent's first
   * frame arrives, or with why there is none (the agent's error, a timeout, a lost socket).
   */
  open(ws: AgentLink, request: LogRequest): Promise<LogOpen> {
    if (this.pending.size >= this.maxRequests) {
      return Promise.resolve({
        ok: false,
        code: "rate_limited",
        message: `${this.maxRequests} log requests are already open in this cluster; try again shortly`,
      });
    }
    const requestId = crypto.randomUUID();
    const p: Pending = { requestId, ws, follow: request.follow === true };
    this.pending.set(requestId, p);
    const answered = new Promise<LogOpen>((resolve) => (p.answer = resolve));
    // One-shot requests must finish within the timeout; a follow must start within it.
    p.timer = setTimeout(() => this.timedOut(p), this.answerTimeoutMs);
    send(ws, { type: "logs", requestId, ...request });
    return answered;
  }

  /** A `logData` frame from the agent on `ws`. */
  data(ws: AgentLink, frame: LogData): void {
    const p = this.pending.get(frame.requestId);
    if (p === undefined || p.ws !== ws) {
      // A request this object no longer holds (its client left, or the object restarted):
      // stop the agent's follow rather than let it send into the void for an hour.
      if (!frame.eof) send(ws, { type: "logsCancel", requestId: frame.requestId });
      return;
    }
    if (frame.error) {
      if (p.answer) return this.finish(p, { ok: false, code: frame.error.code === "failed" ? "bad_gateway" : frame.error.code, message: frame.error.message });
      if (p.follow) return this.endFollow(p, "agent_error", frame.error.message);
      return this.breakOff(p, frame.error.message);
    }
    if (p.answer) this.start(p);
    if (frame.data !== "") this.write(p, p.follow ? sseEvent(frame.data, { id: frame.offset }) : frame.data);
    if (frame.eof) {
      if (p.follow) this.endFollow(p, "task_ended", "the task has ended");
      else this.finish(p);
    }
  }

  /** The socket closed: its requests end (their agent may come back on a new one). */
  socketClosed(ws: AgentLink): void {
    for (const p of [...this.pending.values()]) if (p.ws === ws) this.lost(p);
  }

  /** Opens the body of a request on its first frame and answers open(). */
  private start(p: Pending): void {
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          p.controller = controller;
        },
        // The client went away (the runtime notices at the next write: output or keep-alive): the agent stops following.
        cancel: () => this.cancelled(p),
      },
      { highWaterMark: MAX_BACKLOG_BYTES, size: (chunk) => chunk.byteLength },
    );
    p.answer?.({ ok: true, body });
    p.answer = undefined;
    if (!p.follow) return;
    clearTimeout(p.timer ?? null);
    p.timer = setTimeout(
      () => this.endFollow(p, "max_duration", `follows end after ${this.maxFollowMs / 60_000} minutes; reconnect to go on`, true),
      this.maxFollowMs,
    );
    p.keepAlive = setInterval(() => {
      // A socket the liveness sweep closed under a dead agent never reports its close.
      if (p.ws.readyState !== WebSocket.OPEN) return this.lost(p);
      this.write(p, ":\n\n");
    }, this.keepAliveMs);
  }

  private write(p: Pending, text: string): void {
    const controller = p.controller;
    if (controller === undefined) return;
    if ((controller.desiredSize ?? 0) <= 0) {
      // The client reads more slowly than the task writes: cut it off instead of buffering.
      send(p.ws, { type: "logsCancel", requestId: p.requestId });
      return this.breakOff(p, "log client too slow");
    }
    controller.enqueue(encoder.encode(text));
  }

  /** Ends a follow with a last `end` event saying why; `cancel` stops the agent's side too. */
  private endFollow(p: Pending, reason: FollowEnd, message: string, cancel = false): void {
    if (cancel) send(p.ws, { type: "logsCancel", requestId: p.requestId });
    this.write(p, sseEvent(JSON.stringify({ reason, message }), { event: "end" }));
    this.finish(p);
  }

  private timedOut(p: Pending): void {
    if (p.follow) send(p.ws, { type: "logsCancel", requestId: p.requestId });
    if (p.answer) return this.finish(p, { ok: false, code: "gateway_timeout", message: `the agent did not answer within ${this.answerTimeoutMs / 1000} s` });
    // A one-shot answer that started but did not finish in time: the body breaks off.
    this.breakOff(p, "the agent did not finish sending the log in time");
  }

  private lost(p: Pending): void {
    if (p.answer) return this.finish(p, { ok: false, code: "unavailable", message: "the agent disconnected before answering" });
    if (p.follow) return this.endFollow(p, "agent_disconnected", "the agent disconnected");
    this.breakOff(p, "the agent disconnected while sending the log");
  }

  /** Ends a body that has started with an error: the client sees the response cut short. */
  private breakOff(p: Pending, why: string): void {
    p.controller?.error(new Error(why));
    p.controller = undefined;
    this.finish(p);
  }

  private cancelled(p: Pending): void {
    if (!this.pending.has(p.requestId)) return;
    if (p.follow) send(p.ws, { type: "logsCancel", requestId: p.requestId });
    p.controller = undefined;
    this.finish(p);
  }

  /** Forgets the request, answering open() with `failure` when it has not been answered yet. */
  private finish(p: Pending, failure?: LogOpen): void {
    clearTimeout(p.timer ?? null);
    clearInterval(p.keepAlive ?? null);
    this.pending.delete(p.requestId);
    if (failure) p.answer?.(failure);
    p.answer = undefined;
    p.controller?.close();
    p.controller = undefined;
  }
}
