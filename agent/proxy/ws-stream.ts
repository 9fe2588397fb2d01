import { WsFrameSender, WsMessageAssembler } from "../../protocol/index.ts";
import type { ProxyData, ProxyOpen, ProxyResetCode } from "../../protocol/index.ts";
import { ReceiveWindow } from "./credit.ts";
import type { ProxyStream, StreamChannel } from "./http-stream.ts";

/**
 * A client's WebSocket relayed to the task's: the agent opens a WebSocket to the task's port
 * and answers `proxyHead` 101 once it is open. Messages are cut into fragments both ways; the
 * task's go out within the master's credit, and a task that runs more than a window ahead of
 * its client is closed (1013), since a WebSocket gives no way to slow it down.
 */
export class WsStream implements ProxyStream {
  private ws: WebSocket | undefined;
  private opened = false;
  private readonly inbound = new ReceiveWindow();
  private readonly assembler = new WsMessageAssembler();
  private readonly outbound: WsFrameSender;
  private done = false;

  constructor(
    private readonly open: ProxyOpen,
    private readonly url: string,
    private readonly channel: StreamChannel,
    private readonly onDone: () => void,
  ) {
    this.outbound = new WsFrameSender(open.sid, (frame) => channel.sendBinary(frame));
  }

  start(): void {
    const headers = Object.fromEntries(this.open.headers.filter(([name]) => name !== "sec-websocket-protocol"));
    const protocols = this.open.headers
      .find(([name]) => name === "sec-websocket-protocol")?.[1]
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    try {
      this.ws = new WebSocket(this.url, { headers, ...(protocols?.length ? { protocols } : {}), tls: { rejectUnauthorized: false } });
    } catch (error) {
      return this.reset("bad_response", `the task's WebSocket could not be opened: ${String(error)}`);
    }
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => {
      this.opened = true;
      this.channel.send({ type: "proxyHead", sid: this.open.sid, status: 101, headers: [], ...(this.ws?.protocol ? { protocol: this.ws.protocol } : {}) });
    };
    this.ws.onmessage = (event) => this.fromTask(event.data as string | ArrayBuffer);
    this.ws.onclose = (event) => {
      if (!this.opened) return this.reset("bad_response", `the task did not accept a WebSocket on port ${this.open.port}`);
      if (this.done) return;
      this.channel.send({
        type: "proxyEnd",
        sid: this.open.sid,
        code: event.code === 1005 || event.code === 1006 ? 1000 : event.code,
        reason: event.reason.slice(0, 120),
      });
      this.finish();
    };
  }

  /** A fragment of the client's message. */
  data(frame: ProxyData): void {
    if (!this.inbound.receive(frame.payload.byteLength)) return this.reset("protocol", "the master sent more than it was granted");
    const whole = this.assembler.add(frame);
    if (whole === "too big") return this.reset("limit", "a client message over the size limit");
    if (whole === undefined) return;
    this.ws?.send(whole.message);
    const more = this.inbound.consume(whole.bytes);
    if (more > 0) this.channel.send({ type: "proxyCredit", sid: this.open.sid, bytes: more });
  }

  credit(bytes: number): void {
    this.outbound.credit(bytes);
  }

  /** The client closed: the task's socket closes with the same code. */
  end(code = 1000, reason = ""): void {
    if (this.done) return;
    this.done = true;
    this.ws?.close(code, reason);
    this.onDone();
  }

  abort(): void {
    this.end(1001, "proxy stream ended");
  }

  private fromTask(data: string | ArrayBuffer): void {
    if (this.done) return;
    if (!this.outbound.message(data)) {
      this.ws?.close(1013, "the client reads more slowly than the task writes");
      this.reset("limit", "the task writes faster than its client reads");
    }
  }

  private reset(code: ProxyResetCode, message: string): void {
    if (this.done) return;
    this.channel.send({ type: "proxyReset", sid: this.open.sid, code, message: message.slice(0, 1024) });
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.ws && this.ws.readyState < WebSocket.CLOSING) this.ws.close(1001, "proxy stream ended");
    this.onDone();
  }
}
