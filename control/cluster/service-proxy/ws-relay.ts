import { encodeProxyData, MAX_PROXY_WS_MESSAGE_BYTES, PROXY_CHUNK_BYTES, PROXY_WINDOW_BYTES, ProxyDataKind, type ProxyData } from "../../../protocol/index.ts";
import { closeQuietly, send } from "../sessions.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A client's WebSocket relayed to a task's, over a proxy stream on the agent's socket. Messages
 * are cut into fragments of PROXY_CHUNK_BYTES and sent within the agent's credit; the WebSocket
 * API gives no backpressure on a client's socket, so what the agent has no room for waits here,
 * and a client that runs more than a window ahead of its task is closed (1013) rather than
 * buffered without bound. The task's messages are reassembled (up to
 * MAX_PROXY_WS_MESSAGE_BYTES) and sent to the client whole, credit returned as they go.
 */
export class WsRelay {
  private client: WebSocket | undefined;
  private room = PROXY_WINDOW_BYTES;
  private readonly waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  private done = false;

  constructor(
    private readonly sid: number,
    private readonly agent: WebSocket,
    private readonly onDone: () => void,
  ) {}

  /** The client's socket, accepted by the object: its messages and close go to the task. */
  attach(client: WebSocket): void {
    if (this.done) return closeQuietly(client, 1011, "the task closed its WebSocket");
    this.client = client;
    // Since the 2026-03-17 compatibility date binary messages arrive as Blobs unless asked otherwise.
    client.binaryType = "arraybuffer";
    client.addEventListener("message", (event) => this.fromClient(event.data));
    client.addEventListener("close", (event) => this.clientClosed(event.code, event.reason));
    client.addEventListener("error", () => this.clientClosed(1011, "client socket error"));
  }

  /** A fragment of a task's message. */
  fromTask(frame: ProxyData): void {
    this.fragmentBytes += frame.payload.byteLength;
    if (this.fragmentBytes > MAX_PROXY_WS_MESSAGE_BYTES) return this.abort(1009, "message too big");
    this.fragments.push(frame.payload);
    if (!frame.fin) return;
    const whole = concat(this.fragments, this.fragmentBytes);
    const bytes = this.fragmentBytes;
    this.fragments = [];
    this.fragmentBytes = 0;
    try {
      this.client?.send(frame.kind === ProxyDataKind.WS_TEXT ? decoder.decode(whole) : whole);
    } catch {
      return this.abort(1011, "the client's socket is gone");
    }
    send(this.agent, { type: "proxyCredit", sid: this.sid, bytes: Math.max(1, bytes) });
  }

  /** The agent granted room for more of the client's messages. */
  credit(bytes: number): void {
    this.room += bytes;
    while (this.waiting.length > 0 && (this.waiting[0]?.byteLength ?? 0) - 5 <= this.room) {
      const frame = this.waiting.shift() as Uint8Array;
      this.waitingBytes -= frame.byteLength;
      this.room -= frame.byteLength - 5;
      this.agent.send(frame);
    }
  }

  /** The task closed its WebSocket (or the stream failed): the client's closes with the same code. */
  taskClosed(code = 1000, reason = ""): void {
    if (this.done) return;
    this.done = true;
    if (this.client) closeQuietly(this.client, code === 1005 || code === 1006 ? 1000 : code, reason);
    this.onDone();
  }

  private fromClient(data: string | ArrayBuffer): void {
    if (this.done) return;
    const text = typeof data === "string";
    const bytes = text ? encoder.encode(data) : new Uint8Array(data);
    const kind = text ? ProxyDataKind.WS_TEXT : ProxyDataKind.WS_BINARY;
    for (let at = 0; at === 0 || at < bytes.byteLength; at += PROXY_CHUNK_BYTES) {
      const chunk = bytes.subarray(at, at + PROXY_CHUNK_BYTES);
      const frame = encodeProxyData(kind, this.sid, chunk, at + PROXY_CHUNK_BYTES >= bytes.byteLength);
      if (this.waiting.length === 0 && chunk.byteLength <= this.room) {
        this.room -= chunk.byteLength;
        this.agent.send(frame);
      } else {
        this.waiting.push(frame);
        this.waitingBytes += frame.byteLength;
      }
    }
    if (this.waitingBytes > PROXY_WINDOW_BYTES) this.abort(1013, "the task reads more slowly than the client writes");
  }

  private clientClosed(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    send(this.agent, { type: "proxyEnd", sid: this.sid, code: code === 1005 || code === 1006 ? 1000 : code, reason: reason.slice(0, 120) });
    this.onDone();
  }

  private abort(code: number, reason: string): void {
    if (this.done) return;
    send(this.agent, { type: "proxyReset", sid: this.sid, code: "limit", message: reason });
    this.taskClosed(code, reason);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
