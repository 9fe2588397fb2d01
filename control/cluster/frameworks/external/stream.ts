import { SchedulerCall } from "./calls.ts";
import { fromBase64, toBase64 } from "../../../../protocol/bytes.ts";

/**
 * The subscription stream between the Worker and the Cluster object.
 *
 * Where the long-lived SUBSCRIBE stream lives, and why: the HTTP response a framework holds
 * open is served by the Worker invocation that answered SUBSCRIBE, not by the Cluster object.
 * The Worker opens a WebSocket to the object, which accepts it through the hibernation API
 * (tagged `framework:<id>`), and turns each message into one RecordIO record of the chunked
 * response; it writes the HEARTBEAT records itself, on its own timer. So a subscribed but idle
 * framework costs the object nothing: it hibernates as with idle agents, no heartbeat wakes
 * it, and no open response stream pins it in memory or queues other requests behind writes
 * to a slow client. The object wakes only for real events (offers, updates), each one small
 * message. When the framework goes away the Worker's response is cancelled, it closes the
 * socket, and the object marks the framework disconnected (failover timeout running).
 */

/** The header naming the subscription a call comes from (SUBSCRIBE's response carries it). */
export const STREAM_ID_HEADER = "Mesos-Stream-Id";

/** Headers the Worker sets on the upgrade it sends the object; never taken from the client. */
export const SUBSCRIBE_HEADER = "x-dcx-framework-subscribe";
export const PRINCIPAL_HEADER = "x-dcx-framework-principal";
export const STREAM_HEADER = "x-dcx-framework-stream";
export const MASTER_HOST_HEADER = "x-dcx-master-host";

export type SubscribeBody = NonNullable<SchedulerCall["subscribe"]>;

/** The SUBSCRIBE body as a header value (Base64 of its UTF-8 JSON). */
export function encodeSubscribe(body: SubscribeBody): string {
  return toBase64(new TextEncoder().encode(JSON.stringify(body)));
}

/** The SUBSCRIBE body back from its header, validated again: the object trusts no input. */
export function decodeSubscribe(value: string): SubscribeBody | undefined {
  try {
    const json: unknown = JSON.parse(new TextDecoder().decode(fromBase64(value)));
    const parsed = SchedulerCall.shape.subscribe.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const NON_ASCII = /[\u007f-\uffff]/;
const EVERY_NON_ASCII = /[\u007f-\uffff]/g;

/**
 * The JSON kept ASCII (non-ASCII escaped as \uXXXX), so its length in bytes is its length in
 * characters: the mesos-framework client compares string lengths. The usual event is ASCII
 * through and through: it is scanned once and returned as it is, copied only when it holds
 * something to escape.
 */
export function asciiJson(json: string): string {
  return NON_ASCII.test(json) ? json.replace(EVERY_NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : json;
}

/** One RecordIO record: the length in bytes, a newline, the JSON (kept ASCII, see asciiJson). */
export function recordIo(json: string): string {
  const ascii = asciiJson(json);
  return `${ascii.length}\n${ascii}`;
}

const encoder = new TextEncoder();

/**
 * Events' JSON as the bytes of their RecordIO records, in order: what the Cluster object sends
 * the Worker holding the framework's stream (one binary message per commit), which writes them
 * to the response as they are, with no text to decode, split and encode again per record.
 * The usual batch is ASCII through and through, which the encoding itself tells (as many bytes
 * as characters: any other character takes two bytes or more in UTF-8), so it is not scanned
 * per record first; a batch that is not is framed again with its records kept ASCII.
 */
export function recordIoBytes(jsons: readonly string[]): Uint8Array {
  const text = jsons.map((json) => `${json.length}\n${json}`).join("");
  const bytes = encoder.encode(text);
  return bytes.length === text.length ? bytes : encoder.encode(jsons.map(recordIo).join(""));
}

/** Mesos's heartbeat event, written by the Worker every `heartbeat_interval_seconds`. */
export const HEARTBEAT = JSON.stringify({ type: "HEARTBEAT" });
