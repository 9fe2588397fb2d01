import { decodeProxyData } from "../../protocol/index.ts";
import type { ProxyOpen } from "../../protocol/index.ts";
import type { Logger } from "../log.ts";
import type { MasterCommand, ProxyCommand } from "../task-host.ts";
import { HttpStream, type ProxyStream, type StreamChannel } from "./http-stream.ts";
import { WsStream } from "./ws-stream.ts";

export interface ProxyServiceOptions {
  /** The host ports of a task this agent runs now; undefined for any other task. */
  servicePorts: (taskId: string) => readonly number[] | undefined;
  log: Logger;
  /** Streams open at once; more are refused (`limit`). */
  maxStreams?: number;
}

const DEFAULT_MAX_STREAMS = 256;
/**
 * Where tasks are dialled: loopback only. A task's host port is bound on the machine (the exec
 * driver's processes share its network; Docker publishes BRIDGE ports on the host), so loopback
 * reaches it, and nothing the master says can make the agent dial another machine.
 */
const TASK_HOST = "127.0.0.1";

/** The proxy frames among the master's commands. */
export function isProxyCommand(command: MasterCommand): command is ProxyCommand {
  return command.type === "proxyOpen" || command.type === "proxyCredit" || command.type === "proxyEnd" || command.type === "proxyReset";
}

/**
 * The agent's end of the service proxy (protocol/proxy.ts). The agent runs as root and its
 * master is reached over the internet, so it is never an open proxy: a stream is opened only to
 * a port of a task this agent runs now, on loopback; anything else is refused with `refused`.
 * Streams live as long as the session that opened them: the master forgets them when the socket
 * closes, so they are dropped with it.
 */
export class ProxyService {
  private channel: StreamChannel | undefined;
  private readonly streams = new Map<number, ProxyStream>();
  private readonly maxStreams: number;

  constructor(private readonly options: ProxyServiceOptions) {
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  connected(channel: StreamChannel): void {
    this.channel = channel;
  }

  disconnected(): void {
    this.channel = undefined;
    for (const stream of [...this.streams.values()]) stream.abort();
    this.streams.clear();
  }

  handle(command: ProxyCommand): void {
    if (command.type === "proxyOpen") return this.open(command);
    const stream = this.streams.get(command.sid);
    if (stream === undefined) return;
    if (command.type === "proxyCredit") stream.credit(command.bytes);
    else if (command.type === "proxyEnd") stream.end(command.code, command.reason);
    else {
      this.streams.delete(command.sid);
      stream.abort();
    }
  }

  /** A binary frame from the master: a chunk of a stream's body or WebSocket message. */
  data(frame: Uint8Array): void {
    const data = decodeProxyData(frame);
    if (data === undefined) return this.options.log.warn("frame_invalid", { message: "binary frame is not a proxy data frame" });
    const stream = this.streams.get(data.sid);
    if (stream === undefined) return this.channel?.send({ type: "proxyReset", sid: data.sid, code: "cancelled", message: "no such stream" });
    stream.data(data);
  }

  private open(open: ProxyOpen): void {
    const channel = this.channel;
    if (channel === undefined) return;
    const refusal = this.refusal(open);
    if (refusal !== undefined) {
      this.options.log.warn("proxy_refused", { taskId: open.taskId, port: open.port, why: refusal });
      return channel.send({ type: "proxyReset", sid: open.sid, code: this.streams.size >= this.maxStreams ? "limit" : "refused", message: refusal });
    }
    // A reused id (a master restarted while this stream closed) replaces the old stream.
    this.streams.get(open.sid)?.abort();
    const done = () => {
      if (this.streams.get(open.sid) === stream) this.streams.delete(open.sid);
    };
    const scheme = open.websocket ? (open.scheme === "https" ? "wss" : "ws") : open.scheme;
    const url = `${scheme}://${TASK_HOST}:${open.port}${open.path}`;
    const stream = open.websocket ? new WsStream(open, url, channel, done) : new HttpStream(open, url, channel, done);
    this.streams.set(open.sid, stream);
    stream.start();
  }

  /** Why a stream may not be opened, or undefined when it may. */
  private refusal(open: ProxyOpen): string | undefined {
    if (this.streams.size >= this.maxStreams) return `this agent already has ${this.maxStreams} proxy streams open`;
    const ports = this.options.servicePorts(open.taskId);
    if (ports === undefined) return `task '${open.taskId.slice(0, 200)}' is not running on this agent`;
    if (!ports.includes(open.port)) return `port ${open.port} is not a port of task '${open.taskId.slice(0, 200)}' (its ports: ${ports.join(", ") || "none"})`;
    return undefined;
  }
}
