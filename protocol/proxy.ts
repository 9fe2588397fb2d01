import { z } from "zod";

/**
 * The service proxy's streams on an agent's socket (`/c/:cluster/service/<name>/…`). The master
 * opens a stream with `proxyOpen`, naming a task the agent runs and one of that task's ports;
 * the agent dials the port on loopback and answers `proxyHead` (or `proxyReset` with why not).
 * Bodies and WebSocket messages travel as binary frames (`encodeProxyData`) of at most
 * PROXY_CHUNK_BYTES, each side sending only as many bytes as the other has granted: the
 * receiver starts the sender at PROXY_WINDOW_BYTES and grants more with `proxyCredit` as its
 * consumer drains, so a body of any size crosses with at most a window in flight per stream.
 * `proxyEnd` ends one direction (the body is complete, or the WebSocket closed);
 * `proxyReset` ends the whole stream from either side.
 */

/** Most payload bytes in one binary frame. */
export const PROXY_CHUNK_BYTES = 64 * 1024;
/** Bytes a sender may have unacknowledged per stream and direction before it waits for credit. */
export const PROXY_WINDOW_BYTES = 1024 * 1024;
/** A client WebSocket message larger than this ends the stream (messages are reassembled whole). */
export const MAX_PROXY_WS_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Most bytes of request headers (names and values) a proxied request may carry, as at Cloudflare's edge. */
export const MAX_PROXY_HEADER_BYTES = 32 * 1024;
/** Most bytes of the path and query of a proxied request, as at Cloudflare's edge. */
export const MAX_PROXY_URL_BYTES = 16 * 1024;

const Sid = z.number().int().min(1).max(0xffff_ffff);
/** Headers as a list of pairs: HTTP allows a name to repeat (Set-Cookie), which a record cannot hold. */
export const HeaderList = z.array(z.tuple([z.string().min(1).max(256), z.string().max(MAX_PROXY_HEADER_BYTES)])).max(256);
export type HeaderList = z.infer<typeof HeaderList>;

/** master → agent: open a stream to `port` of `taskId`, which must be a port of a task this agent runs. */
export const ProxyOpen = z.strictObject({
  type: z.literal("proxyOpen"),
  sid: Sid,
  taskId: z.string().min(1).max(512),
  port: z.number().int().min(1).max(65535),
  /** The task's scheme (`DCOS_SERVICE_SCHEME`): the agent speaks TLS to the task for `https`. */
  scheme: z.enum(["http", "https"]),
  method: z
    .string()
    .min(1)
    .max(32)
    .regex(/^[A-Za-z]+$/, "an HTTP method is letters"),
  /** Path and query sent to the task; always starts with `/`. */
  path: z.string().min(1).max(MAX_PROXY_URL_BYTES).startsWith("/"),
  headers: HeaderList,
  /** Whether request body frames follow (until `proxyEnd`). */
  body: z.boolean(),
  /** A WebSocket upgrade: the agent opens a WebSocket to the task and relays messages. */
  websocket: z.boolean(),
});
export type ProxyOpen = z.infer<typeof ProxyOpen>;

/** agent → master: the task's status line and headers (101 for an accepted WebSocket). */
export const ProxyHead = z.strictObject({
  type: z.literal("proxyHead"),
  sid: Sid,
  status: z.number().int().min(101).max(599),
  headers: HeaderList,
  /** The subprotocol the task's WebSocket chose, if any. */
  protocol: z.string().max(256).optional(),
  /**
   * The start of the body (base64, at most PROXY_CHUNK_BYTES), when the task had already sent
   * it: a small answer then costs the master one frame instead of three. It counts against the
   * window like a data frame.
   */
  body: z
    .string()
    .max(Math.ceil(PROXY_CHUNK_BYTES / 3) * 4)
    .optional(),
  /** The body is complete with this frame (no `proxyEnd` follows). */
  end: z.boolean().optional(),
});
export type ProxyHead = z.infer<typeof ProxyHead>;

/** Either way: the receiver may be sent `bytes` more payload bytes on the stream. */
export const ProxyCredit = z.strictObject({ type: z.literal("proxyCredit"), sid: Sid, bytes: z.number().int().min(1).max(0x7fff_ffff) });
export type ProxyCredit = z.infer<typeof ProxyCredit>;

/** Either way: the sender's direction is complete (body ended; a WebSocket closed with `code`). */
export const ProxyEnd = z.strictObject({
  type: z.literal("proxyEnd"),
  sid: Sid,
  code: z.number().int().min(1000).max(4999).optional(),
  reason: z.string().max(123).optional(),
});
export type ProxyEnd = z.infer<typeof ProxyEnd>;

/**
 * Why a stream ended abnormally: `refused` (not a port of a task this agent runs), `connect_failed`
 * (nothing listens), `bad_response` (the task answered something that is not HTTP), `broken`
 * (the connection to the task failed mid-stream), `cancelled` (the client went away), `limit`
 * (too many streams, or a message over the size limit), `protocol` (a frame broke the rules).
 */
export const ProxyResetCode = z.enum(["refused", "connect_failed", "bad_response", "broken", "cancelled", "limit", "protocol"]);
export type ProxyResetCode = z.infer<typeof ProxyResetCode>;

/** Either way: the stream is over, both directions. */
export const ProxyReset = z.strictObject({ type: z.literal("proxyReset"), sid: Sid, code: ProxyResetCode, message: z.string().max(1024) });
export type ProxyReset = z.infer<typeof ProxyReset>;

/** What a binary frame carries: body bytes, or a fragment of a WebSocket message. */
export const ProxyDataKind = { BODY: 1, WS_TEXT: 2, WS_BINARY: 3 } as const;
export type ProxyDataKind = (typeof ProxyDataKind)[keyof typeof ProxyDataKind];
/** Set on the last fragment of a WebSocket message (body frames always carry it). */
const FIN = 0x80;
/** The bytes of a data frame before its payload: kind and stream id. */
export const PROXY_DATA_HEADER_BYTES = 5;

/** One decoded binary frame. */
export interface ProxyData {
  kind: ProxyDataKind;
  sid: number;
  /** The last fragment of a WebSocket message. */
  fin: boolean;
  payload: Uint8Array;
}

/** A binary frame: one byte of kind (high bit: FIN), four of stream id (big-endian), then the payload. */
export function encodeProxyData(kind: ProxyDataKind, sid: number, payload: Uint8Array, fin = true): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(PROXY_DATA_HEADER_BYTES + payload.byteLength);
  frame[0] = kind | (fin ? FIN : 0);
  new DataView(frame.buffer).setUint32(1, sid);
  frame.set(payload, PROXY_DATA_HEADER_BYTES);
  return frame;
}

/** Decodes a binary frame; undefined for one that is not a proxy data frame. Never throws. */
export function decodeProxyData(frame: Uint8Array): ProxyData | undefined {
  if (frame.byteLength < PROXY_DATA_HEADER_BYTES || frame.byteLength > PROXY_DATA_HEADER_BYTES + PROXY_CHUNK_BYTES) return undefined;
  const kind = (frame[0] ?? 0) & ~FIN;
  if (kind !== ProxyDataKind.BODY && kind !== ProxyDataKind.WS_TEXT && kind !== ProxyDataKind.WS_BINARY) return undefined;
  const sid = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(1);
  if (sid === 0) return undefined;
  return { kind, sid, fin: ((frame[0] ?? 0) & FIN) !== 0, payload: frame.subarray(PROXY_DATA_HEADER_BYTES) };
}

/**
 * Headers that belong to one connection, never forwarded by a proxy (RFC 9110 §7.6.1), plus
 * what the runtime sets itself (`content-length`, `host` is passed separately).
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);
