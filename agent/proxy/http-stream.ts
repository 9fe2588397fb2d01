import { encodeProxyData, PROXY_CHUNK_BYTES, PROXY_WINDOW_BYTES, ProxyDataKind } from "../../protocol/index.ts";
import type { AgentMessage, HeaderList, ProxyData, ProxyOpen, ProxyResetCode } from "../../protocol/index.ts";
import { errorMessage } from "../log.ts";
import { ReceiveWindow, SendWindow } from "./credit.ts";

/** How a stream talks to the master: JSON frames and binary data frames on the agent's socket. */
export interface StreamChannel {
  send(message: AgentMessage): void;
  sendBinary(frame: Uint8Array): void;
}

/** What every stream kind offers the proxy service. */
export interface ProxyStream {
  data(frame: ProxyData): void;
  credit(bytes: number): void;
  end(code?: number, reason?: string): void;
  /** The master reset the stream, or the session ended: stop, tell nobody. */
  abort(): void;
}

/**
 * One proxied HTTP request on the agent: the master's body chunks feed a ReadableStream that
 * `fetch` sends to the task (credit goes back as the task reads it), and the task's answer
 * goes back as `proxyHead` and body chunks, each sent only within the master's credit, so a
 * slow client slows the task's download instead of filling the agent's memory.
 */
export class HttpStream implements ProxyStream {
  private readonly abortController = new AbortController();
  private body: ReadableStreamDefaultController<Uint8Array> | undefined;
  private readonly inbound = new ReceiveWindow();
  private readonly outbound = new SendWindow();
  private done = false;

  constructor(
    private readonly open: ProxyOpen,
    private readonly url: string,
    private readonly channel: StreamChannel,
    private readonly onDone: () => void,
  ) {}

  start(): void {
    void this.run();
  }

  data(frame: ProxyData): void {
    if (this.body === undefined || frame.kind !== ProxyDataKind.BODY) return this.reset("protocol", "body data on a stream that takes none");
    if (!this.inbound.receive(frame.payload.byteLength)) return this.reset("protocol", "the master sent more than it was granted");
    this.body.enqueue(frame.payload);
  }

  credit(bytes: number): void {
    this.outbound.grant(bytes);
  }

  /** The request body is complete. */
  end(): void {
    this.body?.close();
    this.body = undefined;
  }

  abort(): void {
    this.finish();
  }

  private requestBody(): ReadableStream<Uint8Array> | undefined {
    if (!this.open.body) return undefined;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.body = controller;
        },
        pull: (controller) => {
          const more = this.inbound.consumedAllBut(PROXY_WINDOW_BYTES - (controller.desiredSize ?? 0));
          if (more > 0) this.channel.send({ type: "proxyCredit", sid: this.open.sid, bytes: more });
        },
      },
      { highWaterMark: PROXY_WINDOW_BYTES, size: (chunk) => chunk?.byteLength ?? 0 },
    );
  }

  /**
   * The request's headers; without an `Accept-Encoding` of the client's, `identity`, since
   * `fetch` would otherwise ask for a compressed answer that, undecoded, the client cannot read.
   */
  private upstreamHeaders(): [string, string][] {
    const headers = this.open.headers.map(([name, value]): [string, string] => [name, value]);
    if (!headers.some(([name]) => name.toLowerCase() === "accept-encoding")) headers.push(["accept-encoding", "identity"]);
    return headers;
  }

  private async run(): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: this.open.method,
        headers: this.upstreamHeaders(),
        body: this.requestBody(),
        redirect: "manual",
        decompress: false,
        // Straight to the task: never through a proxy the agent's environment names.
        proxy: false,
        signal: this.abortController.signal,
        // A task's certificate is its own (self-signed, usually): the link is loopback.
        tls: { rejectUnauthorized: false },
      } as RequestInit);
    } catch (error) {
      return this.reset(...failureOf(error, this.open.port));
    }
    if (this.done) return;
    await this.relay(response);
  }

  /**
   * Sends the head, with what the task has already sent of the body (a small answer is then
   * one frame for the master instead of three), then the rest of the body within the credit.
   */
  private async relay(response: Response): Promise<void> {
    const head = { type: "proxyHead" as const, sid: this.open.sid, status: response.status, headers: headerList(response.headers) };
    const reader: ChunkReader | undefined = response.body?.getReader();
    if (reader === undefined) {
      this.channel.send({ ...head, end: true });
      return this.finish();
    }
    try {
      let next = reader.read();
      let now = await settledNow(next);
      let inline: Uint8Array | undefined;
      if (now !== undefined && !now.done && now.value.byteLength <= PROXY_CHUNK_BYTES) {
        inline = now.value;
        next = reader.read();
        now = await settledNow(next);
      }
      const end = now?.done === true;
      if (inline !== undefined) await this.outbound.take(inline.byteLength);
      this.channel.send({ ...head, ...(inline === undefined ? {} : { body: Buffer.from(inline).toString("base64") }), ...(end ? { end } : {}) });
      if (end) return this.finish();
      await this.relayRest(reader, next);
    } catch (error) {
      if (!this.done) this.reset("broken", `the task's answer broke off: ${errorMessage(error)}`);
    }
  }

  /** The rest of the body, from the read already under way, in chunks within the master's credit. */
  private async relayRest(reader: ChunkReader, pending: ReturnType<ChunkReader["read"]>): Promise<void> {
    for (let read = await pending; !read.done; read = await reader.read()) {
      for (let at = 0; at < read.value.byteLength; at += PROXY_CHUNK_BYTES) {
        const piece = read.value.subarray(at, at + PROXY_CHUNK_BYTES);
        if (!(await this.outbound.take(piece.byteLength))) return;
        this.channel.sendBinary(encodeProxyData(ProxyDataKind.BODY, this.open.sid, piece));
      }
    }
    if (this.done) return;
    this.channel.send({ type: "proxyEnd", sid: this.open.sid });
    this.finish();
  }

  private reset(code: ProxyResetCode, message: string): void {
    if (this.done) return;
    this.channel.send({ type: "proxyReset", sid: this.open.sid, code, message: message.slice(0, 1024) });
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.outbound.close();
    this.abortController.abort();
    try {
      this.body?.error(new Error("stream ended"));
    } catch {
      // Already closed.
    }
    this.body = undefined;
    this.onDone();
  }
}

/** A reader of the task's body. */
type ChunkReader = { read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }> };

/** The read's result if it has already settled (the task's bytes are here), else undefined, without waiting for the task. */
async function settledNow<T>(read: Promise<T>): Promise<T | undefined> {
  return Promise.race([read, new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
}

/** The response's headers as pairs; each Set-Cookie stays its own header. */
export function headerList(headers: Headers): HeaderList {
  const out: HeaderList = [];
  for (const [name, value] of headers) if (name !== "set-cookie") out.push([name, value]);
  for (const cookie of headers.getSetCookie()) out.push(["set-cookie", cookie]);
  return out;
}

/** Why `fetch` to the task failed, as a reset code and a message an operator can act on. */
export function failureOf(error: unknown, port: number): [ProxyResetCode, string] {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  if (/ConnectionRefused|ECONNREFUSED|ECONNRESET|ConnectionClosed/i.test(code) && !/Malformed|Invalid|Parse/i.test(code)) {
    return ["connect_failed", `nothing answers on the task's port ${port} (${code})`];
  }
  return ["bad_response", `the task's answer on port ${port} is not valid HTTP: ${errorMessage(error)}${code ? ` (${code})` : ""}`];
}
