import { concatBytes } from "./bytes.ts";
import {
  encodeProxyData,
  MAX_PROXY_WS_MESSAGE_BYTES,
  PROXY_CHUNK_BYTES,
  PROXY_DATA_HEADER_BYTES,
  PROXY_WINDOW_BYTES,
  ProxyDataKind,
  type ProxyData,
} from "./proxy.ts";

/**
 * A WebSocket relayed through a proxy stream, the part both ends do alike: the agent (client →
 * task) and the Cluster object (task → client) each reassemble the messages coming in as data
 * frames, and cut the messages going out into frames sent within the other end's credit.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message's data frames, gathered until its last one. */
export class WsMessageAssembler {
  private parts: Uint8Array[] = [];
  private size = 0;

  /**
   * Adds one frame: the whole message (text decoded, as it was sent) and its payload bytes once
   * the frame is the last, "too big" past MAX_PROXY_WS_MESSAGE_BYTES, else undefined.
   */
  add(frame: ProxyData): { message: string | Uint8Array; bytes: number } | "too big" | undefined {
    this.size += frame.payload.byteLength;
    if (this.size > MAX_PROXY_WS_MESSAGE_BYTES) return "too big";
    this.parts.push(frame.payload);
    if (!frame.fin) return undefined;
    const whole = concatBytes(this.parts, this.size);
    const bytes = this.size;
    this.parts = [];
    this.size = 0;
    return { message: frame.kind === ProxyDataKind.WS_TEXT ? decoder.decode(whole) : whole, bytes };
  }
}

/**
 * Messages of one stream cut into frames of PROXY_CHUNK_BYTES and sent within the receiver's
 * credit (a window of PROXY_WINDOW_BYTES to start); the WebSocket API gives no backpressure, so
 * what has no room waits here.
 */
export class WsFrameSender {
  private room = PROXY_WINDOW_BYTES;
  private readonly waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  private readonly sid: number;
  private readonly sendFrame: (frame: Uint8Array) => void;

  constructor(sid: number, sendFrame: (frame: Uint8Array) => void) {
    this.sid = sid;
    this.sendFrame = sendFrame;
  }

  /** Sends or queues one message; false once more than a window waits (the reader is too slow). */
  message(data: string | ArrayBuffer): boolean {
    const text = typeof data === "string";
    const bytes = text ? encoder.encode(data) : new Uint8Array(data);
    const kind = text ? ProxyDataKind.WS_TEXT : ProxyDataKind.WS_BINARY;
    for (let at = 0; at === 0 || at < bytes.byteLength; at += PROXY_CHUNK_BYTES) {
      const chunk = bytes.subarray(at, at + PROXY_CHUNK_BYTES);
      const frame = encodeProxyData(kind, this.sid, chunk, at + PROXY_CHUNK_BYTES >= bytes.byteLength);
      if (this.waiting.length === 0 && chunk.byteLength <= this.room) {
        this.room -= chunk.byteLength;
        this.sendFrame(frame);
      } else {
        this.waiting.push(frame);
        this.waitingBytes += frame.byteLength;
      }
    }
    return this.waitingBytes <= PROXY_WINDOW_BYTES;
  }

  /** The receiver granted room for `bytes` more: what waits goes out, in order, as far as it fits. */
  credit(bytes: number): void {
    this.room += bytes;
    while (this.waiting.length > 0 && (this.waiting[0]?.byteLength ?? 0) - PROXY_DATA_HEADER_BYTES <= this.room) {
      const frame = this.waiting.shift() as Uint8Array;
      this.waitingBytes -= frame.byteLength;
      this.room -= frame.byteLength - PROXY_DATA_HEADER_BYTES;
      this.sendFrame(frame);
    }
  }
}
