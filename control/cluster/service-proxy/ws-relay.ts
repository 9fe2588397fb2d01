import { type ProxyData, WsFrameSender, WsMessageAssembler } from "../../../protocol/index.ts";
import { type AgentLink, closeQuietly, send } from "../sessions.ts";

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
  private readonly assembler = new WsMessageAssembler();
  private readonly outbound: WsFrameSender;
  private done = false;

  constructor(
    private readonly sid: number,
    private readonly agent: AgentLink,
    private readonly onDone: () => void,
  ) {
    this.outbound = new WsFrameSender(sid, (frame) => agent.send(frame));
  }

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
    const whole = this.assembler.add(frame);
    if (whole === "too big") return this.abort(1009, "message too big");
    if (whole === undefined) return;
    try {
      this.client?.send(whole.message);
    } catch {
      return this.abort(1011, "the client's socket is gone");
    }
    send(this.agent, { type: "proxyCredit", sid: this.sid, bytes: Math.max(1, whole.bytes) });
  }

  /** The agent granted room for more of the client's messages. */
  credit(bytes: number): void {
    this.outbound.credit(bytes);
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
    if (!this.outbound.message(data)) this.abort(1013, "the task reads more slowly than the client writes");
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
