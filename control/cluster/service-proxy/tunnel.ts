import {
  encodeProxyData,
  PROXY_CHUNK_BYTES,
  PROXY_WINDOW_BYTES,
  ProxyDataKind,
  type HeaderList,
  type ProxyData,
  type ProxyEnd,
  type ProxyHead,
  type ProxyOpen,
  type ProxyReset,
} from "../../../protocol/index.ts";
import { type AgentLink, send } from "../sessions.ts";
import { WsRelay } from "./ws-relay.ts";

/**
 * The Cluster object's end of the service proxy's streams (protocol/proxy.ts). A request goes
 * to the agent as `proxyOpen`; its body follows in chunks as the agent grants credit; the
 * answer comes back as `proxyHead` and body chunks, which are written into a ReadableStream
 * the Worker returns to its client. The object grants the agent credit only as that stream is
 * read, so a slow client holds the agent (and the task) back instead of filling this object's
 * memory: each stream holds at most PROXY_WINDOW_BYTES per direction here.
 *
 * Streams live in memory only. An open stream keeps the object awake; if the object is evicted
 * anyway, the streams fail with their HTTP connections, and frames an agent still sends for
 * them are answered with `proxyReset`.
 */

/** What the proxy asks of an agent: the `proxyOpen` frame without its envelope. */
export type StreamRequest = Omit<ProxyOpen, "type" | "sid" | "body">;

/** Why a stream could not be opened, as the API's error codes. */
export type ProxyFailureCode = "not_found" | "bad_gateway" | "unavailable" | "gateway_timeout";

/** The answer to a proxied request: the task's status, headers and body, or why there is none. */
export type ProxyAnswer =
  | { ok: true; sid: number; status: number; headers: HeaderList; protocol?: string; body: ReadableStream<Uint8Array> | null }
  | { ok: false; code: ProxyFailureCode; message: string };

export interface TunnelOptions {
  /** How long a task has to send its status line and headers. */
  answerTimeoutMs?: number;
  /** Streams open at once in this object (bounds its memory at this many windows each way). */
  maxStreams?: number;
}

/** One stream. `answer` is set until the head arrives; `body` once it has. */
interface Stream {
  sid: number;
  ws: AgentLink;
  answer?: (result: ProxyAnswer) => void;
  timer?: ReturnType<typeof setTimeout>;
  body?: ReadableStreamDefaultController<Uint8Array>;
  /** Body bytes the agent sent, and the most it may send (both since the stream opened). */
  received: number;
  granted: number;
  /** Bytes this object may still send the agent; `waiter` wakes the request body's pump. */
  credit: number;
  waiter?: () => void;
  reader?: { cancel(): Promise<void> };
  relay?: WsRelay;
}

const DEFAULT_ANSWER_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_STREAMS = 64;
/** How often open streams check that their agent's socket is still open. */
const SOCKET_CHECK_MS = 1000;
/** Statuses whose response has no body (a Response with one would throw). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** Maps an agent's reset code to the error the client gets. */
function failureOf(reset: Pick<ProxyReset, "code" | "message">): { code: ProxyFailureCode; message: string } {
  if (reset.code === "limit") return { code: "unavailable", message: reset.message };
  return { code: "bad_gateway", message: reset.message };
}

export class ProxyTunnel {
  private readonly streams = new Map<number, Stream>();
  private readonly answerTimeoutMs: number;
  private readonly maxStreams: number;
  // Ids start at a random point so a restarted object does not reuse the ids of an agent's streams still closing.
  private nextSid = 1 + Math.floor(Math.random() * 0x7fff_0000);
  private socketCheck: ReturnType<typeof setInterval> | undefined;

  constructor(options: TunnelOptions = {}) {
    this.answerTimeoutMs = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  }

  /** The stream `sid` if it runs on `ws`: an agent can only speak for its own streams. */
  private stream(ws: AgentLink, sid: number): Stream | undefined {
    const s = this.streams.get(sid);
    return s?.ws === ws ? s : undefined;
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Opens a stream to a task through its agent's socket `ws` and sends `body` as the agent
   * grants credit; resolves once the task's head arrives, or with why it will not.
   */
  open(ws: AgentLink, request: StreamRequest, body: ReadableStream<Uint8Array> | null): Promise<ProxyAnswer> {
    if (this.streams.size >= this.maxStreams) {
      body?.cancel().catch(() => {});
      return Promise.resolve({
        ok: false,
        code: "unavailable",
        message: `${this.maxStreams} proxied requests are already open in this cluster; try again shortly.`,
      });
    }
    const sid = this.nextSid++;
    if (this.nextSid > 0xffff_fff0) this.nextSid = 1;
    const s: Stream = { sid, ws, received: 0, granted: PROXY_WINDOW_BYTES, credit: PROXY_WINDOW_BYTES };
    this.streams.set(sid, s);
    this.socketCheck ??= setInterval(() => this.checkSockets(), SOCKET_CHECK_MS);
    const answered = new Promise<ProxyAnswer>((resolve) => (s.answer = resolve));
    this.armTimeout(s);
    send(ws, { type: "proxyOpen", sid, ...request, body: body !== null });
    if (body !== null) void this.pump(s, body);
    return answered;
  }

  /** A `proxyHead` from the agent on `ws`. */
  head(ws: AgentLink, frame: ProxyHead): void {
    const s = this.stream(ws, frame.sid);
    if (s === undefined) return send(ws, { type: "proxyReset", sid: frame.sid, code: "cancelled", message: "no such stream" });
    if (s.answer === undefined) return this.reset(s, "protocol", "a second head on one stream");
    clearTimeout(s.timer ?? null);
    if (frame.status === 101) {
      s.relay = new WsRelay(s.sid, s.ws, () => this.forget(s));
      return this.answer(s, { ok: true, sid: s.sid, status: 101, headers: frame.headers, ...(frame.protocol ? { protocol: frame.protocol } : {}), body: null });
    }
    const body = NULL_BODY.has(frame.status) ? null : this.responseBody(s);
    this.answer(s, { ok: true, sid: s.sid, status: frame.status, headers: frame.headers, body });
    if (frame.body !== undefined && s.body !== undefined) {
      const bytes = fromBase64(frame.body);
      s.received += bytes.byteLength;
      if (bytes.byteLength > 0) s.body.enqueue(bytes);
    }
    if (frame.end) this.end(ws, { type: "proxyEnd", sid: frame.sid });
  }

  /** The client's WebSocket, once the Worker has handed it over: frames flow between it and the task. */
  attach(sid: number, client: WebSocket): void {
    const s = this.streams.get(sid);
    if (s?.relay === undefined) return client.close(1011, "the task's WebSocket is gone");
    s.relay.attach(client);
  }

  /** A binary frame from the agent on `ws`. */
  data(ws: AgentLink, frame: ProxyData): void {
    const s = this.stream(ws, frame.sid);
    if (s === undefined) return send(ws, { type: "proxyReset", sid: frame.sid, code: "cancelled", message: "no such stream" });
    if (s.relay) return s.relay.fromTask(frame);
    if (s.body === undefined || frame.kind !== ProxyDataKind.BODY) return this.reset(s, "protocol", "body data before the head");
    s.received += frame.payload.byteLength;
    if (s.received > s.granted) return this.reset(s, "protocol", "the agent sent more than it was granted");
    s.body.enqueue(frame.payload);
  }

  /** A `proxyCredit` from the agent: the request body (or client messages) may go on. */
  credit(ws: AgentLink, sid: number, bytes: number): void {
    const s = this.stream(ws, sid);
    if (s === undefined) return;
    if (s.relay) return s.relay.credit(bytes);
    // The task is reading the body: its time to answer starts again (a read timeout, as nginx's).
    if (s.answer) this.armTimeout(s);
    s.credit += bytes;
    s.waiter?.();
  }

  /** A `proxyEnd` from the agent: the response body is complete (or the task closed its WebSocket). */
  end(ws: AgentLink, frame: ProxyEnd): void {
    const s = this.stream(ws, frame.sid);
    if (s === undefined) return;
    if (s.relay) return s.relay.taskClosed(frame.code, frame.reason);
    if (s.answer) return this.reset(s, "protocol", "end before the head");
    s.body?.close();
    s.body = undefined;
    this.forget(s);
  }

  /** A `proxyReset` from the agent: the stream is over. */
  agentReset(ws: AgentLink, frame: ProxyReset): void {
    const s = this.stream(ws, frame.sid);
    if (s === undefined) return;
    const failure = failureOf(frame);
    this.fail(s, failure.code, failure.message, false);
  }

  /** The agent's socket closed: its streams fail (their clients get a 503 or a cut body). */
  socketClosed(ws: AgentLink): void {
    for (const s of [...this.streams.values()]) if (s.ws === ws) this.fail(s, "unavailable", "The task's agent disconnected.", false);
  }

  /**
   * A socket the liveness sweep closed under a dead agent (or one whose peer vanished) never
   * reports its close: streams on a socket that is no longer open fail here instead of hanging.
   */
  private checkSockets(): void {
    for (const s of [...this.streams.values()]) if (s.ws.readyState !== WebSocket.OPEN) this.fail(s, "unavailable", "The task's agent disconnected.", false);
    if (this.streams.size === 0) {
      clearInterval(this.socketCheck ?? null);
      this.socketCheck = undefined;
    }
  }

  /** (Re)starts the time the task has to make progress before its client gets a 504. */
  private armTimeout(s: Stream): void {
    clearTimeout(s.timer ?? null);
    s.timer = setTimeout(() => this.fail(s, "gateway_timeout", `The task did not answer within ${this.answerTimeoutMs / 1000} s.`, true), this.answerTimeoutMs);
  }

  /** The answer's body: read by the Worker; each read lets the agent send as much again. */
  private responseBody(s: Stream): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          s.body = controller;
        },
        pull: (controller) => this.grant(s, PROXY_WINDOW_BYTES - (controller.desiredSize ?? 0)),
        cancel: () => this.reset(s, "cancelled", "the client went away"),
      },
      { highWaterMark: PROXY_WINDOW_BYTES, size: (chunk) => chunk.byteLength },
    );
  }

  /**
   * Grants the agent what the client has read, keeping a window ahead of it; in batches of half
   * a window, since every frame costs the object a dispatch.
   */
  private grant(s: Stream, queued: number): void {
    const consumed = s.received - Math.max(0, queued);
    const more = consumed + PROXY_WINDOW_BYTES - s.granted;
    if (more < PROXY_WINDOW_BYTES / 2) return;
    s.granted += more;
    send(s.ws, { type: "proxyCredit", sid: s.sid, bytes: more });
  }

  /**
   * Sends the request body in chunks, each only when the agent has room for it. A byte stream
   * (what RPC hands over) is read into chunk-sized buffers: it arrives in pieces of a few KiB,
   * and a frame per piece would cost the agent a message each.
   */
  private async pump(s: Stream, body: ReadableStream<Uint8Array>): Promise<void> {
    const next = chunkReader(body);
    s.reader = next.reader;
    try {
      for (let chunk = await next.read(); chunk !== undefined; chunk = await next.read()) {
        while (s.credit < chunk.byteLength) {
          if (!this.streams.has(s.sid)) return;
          await new Promise<void>((resolve) => (s.waiter = resolve));
          s.waiter = undefined;
        }
        if (!this.streams.has(s.sid)) return;
        s.credit -= chunk.byteLength;
        s.ws.send(encodeProxyData(ProxyDataKind.BODY, s.sid, chunk));
      }
      if (!this.streams.has(s.sid)) return;
      send(s.ws, { type: "proxyEnd", sid: s.sid });
      if (s.answer) this.armTimeout(s);
    } catch {
      // The client's body broke off (it went away): the task must not take half a body for a whole one.
      if (this.streams.has(s.sid)) this.fail(s, "bad_gateway", "The request body broke off.", true);
    }
  }

  private answer(s: Stream, result: ProxyAnswer): void {
    s.answer?.(result);
    s.answer = undefined;
  }

  /** Ends a stream with an error: a pending answer gets it; a started body is cut short. */
  private fail(s: Stream, code: ProxyFailureCode, message: string, tellAgent: boolean): void {
    if (tellAgent) send(s.ws, { type: "proxyReset", sid: s.sid, code: "cancelled", message: message.slice(0, 1024) });
    if (s.answer) this.answer(s, { ok: false, code, message });
    s.body?.error(new Error(message));
    s.body = undefined;
    s.relay?.taskClosed(1011, message.slice(0, 120));
    this.forget(s);
  }

  /** Ends a stream this side broke off, telling the agent why. */
  private reset(s: Stream, code: ProxyReset["code"], message: string): void {
    send(s.ws, { type: "proxyReset", sid: s.sid, code, message });
    if (code === "cancelled") {
      s.body = undefined;
      return this.forget(s);
    }
    this.fail(s, "bad_gateway", `The agent broke the proxy protocol: ${message}.`, false);
  }

  private forget(s: Stream): void {
    clearTimeout(s.timer ?? null);
    this.streams.delete(s.sid);
    s.waiter?.();
    s.reader?.cancel().catch(() => {});
    s.reader = undefined;
  }
}

/**
 * Reads a body in pieces of at most PROXY_CHUNK_BYTES: into a buffer of that size when the
 * stream is a byte stream (as much as has arrived, in one read), else as its chunks come, cut.
 */
function chunkReader(body: ReadableStream<Uint8Array>): { reader: { cancel(): Promise<void> }; read: () => Promise<Uint8Array | undefined> } {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    byob = undefined;
  }
  if (byob !== undefined) {
    const reader = byob;
    const read = async () => {
      const { done, value } = await reader.read(new Uint8Array(PROXY_CHUNK_BYTES));
      return done ? undefined : value;
    };
    return { reader, read };
  }
  const reader = body.getReader();
  let rest: Uint8Array | undefined;
  const read = async () => {
    if (rest === undefined || rest.byteLength === 0) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      rest = value;
    }
    const chunk = rest.subarray(0, PROXY_CHUNK_BYTES);
    rest = rest.subarray(chunk.byteLength);
    return chunk;
  };
  return { reader, read };
}

/** Decodes the base64 start of a body that came with its head. */
function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
