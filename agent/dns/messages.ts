import { CHECKING_DISABLED, RECURSION_AVAILABLE, RECURSION_DESIRED, TRUNCATED_RESPONSE, decode, encode } from "@leichtgewicht/dns-packet";
import type { Answer, OptionData, Packet, Question } from "@leichtgewicht/dns-packet";
import { toRcode } from "@leichtgewicht/dns-packet/rcodes.js";

/**
 * DNS messages on top of `@leichtgewicht/dns-packet`: every byte is read and written by the
 * library. What this module adds is the forwarder's policy: which header bits an answer
 * carries, EDNS, truncation for UDP, and reading just the header or the question of a message
 * whose records the library might not know.
 */

export const RCODE = {
  NOERROR: toRcode("NOERROR"),
  FORMERR: toRcode("FORMERR"),
  SERVFAIL: toRcode("SERVFAIL"),
  NXDOMAIN: toRcode("NXDOMAIN"),
  NOTIMP: toRcode("NOTIMP"),
  REFUSED: toRcode("REFUSED"),
} as const;

/** The opcode and rcode fields of the 15 flag bits the library exposes (QR is `type`). */
const OPCODE_MASK = 0x7800;
const RCODE_MASK = 0x000f;
/** The DO bit of an OPT record's flags (RFC 3225); answers echo it. */
const EDNS_DO = 0x8000;
/** The smallest UDP payload every client accepts, and what a client without EDNS gets. */
export const CLASSIC_UDP_SIZE = 512;
/** The most this forwarder sends over UDP, however much a client advertises. */
const MAX_UDP_SIZE = 4_096;
/** What this forwarder advertises in its own OPT record (the DNS Flag Day 2020 value). */
const ADVERTISED_UDP_SIZE = 1_232;

/** The fixed 12-byte header of a message. */
export interface Header {
  id: number;
  /** The 15 flag bits below QR: opcode, AA, TC, RD, RA, Z, AD, CD, rcode. */
  flags: number;
  isResponse: boolean;
  opcode: number;
}

/** The parts of a client's EDNS OPT record that shape the answer. */
export interface Edns {
  udpPayloadSize: number;
  dnssecOk: boolean;
}

/**
 * Reads the header alone, or undefined when there are not 12 bytes. The library decodes whole
 * messages only, so it is handed a copy of the header with every section count zeroed.
 */
export function peekHeader(bytes: Uint8Array): Header | undefined {
  if (bytes.length < 12) return undefined;
  const head = bytes.slice(0, 12);
  head.fill(0, 4);
  const packet = decode(head);
  const flags = packet.flags ?? 0;
  return { id: packet.id ?? 0, flags, isResponse: packet.type === "response", opcode: (flags & OPCODE_MASK) >> 11 };
}

/**
 * Decodes the header and the question section only (the record counts zeroed in a copy), so an
 * upstream answer can be checked against its query even when it holds record types the
 * library cannot decode. Undefined when even that much does not decode.
 */
export function decodeHead(bytes: Uint8Array): Packet | undefined {
  if (bytes.length < 12) return undefined;
  const copy = bytes.slice();
  copy.fill(0, 6, 12);
  return decodeStrict(copy);
}

/**
 * Decodes a whole message, or undefined when it does not parse. The library reads past the end
 * of a truncated message as zeros instead of failing, so the length it consumed (recorded on
 * `decode.bytes`, which its types do not declare) is checked against the input too.
 */
export function decodeStrict(bytes: Uint8Array): Packet | undefined {
  try {
    const packet = decode(bytes);
    const consumed: unknown = Reflect.get(decode, "bytes");
    return typeof consumed === "number" && consumed <= bytes.length ? packet : undefined;
  } catch {
    return undefined;
  }
}

/** The client's EDNS parameters, or undefined when its query carried no OPT record. */
export function ednsOf(packet: Packet): Edns | undefined {
  const opt = packet.additionals?.find((record) => record.type === "OPT");
  if (opt === undefined) return undefined;
  // The library decodes OPT's fixed fields onto the record, outside its declared type.
  const size: unknown = Reflect.get(opt, "udpPayloadSize");
  const flags: unknown = Reflect.get(opt, "flags");
  return { udpPayloadSize: typeof size === "number" ? size : CLASSIC_UDP_SIZE, dnssecOk: typeof flags === "number" && (flags & EDNS_DO) !== 0 };
}

/** The largest answer a UDP client takes (RFC 6891 §6.2.5: below 512 counts as 512). */
export function udpLimit(edns: Edns | undefined): number {
  if (edns === undefined) return CLASSIC_UDP_SIZE;
  return Math.min(MAX_UDP_SIZE, Math.max(CLASSIC_UDP_SIZE, edns.udpPayloadSize));
}

/** True when two questions ask the same thing; names compare case-insensitively (RFC 4343). */
export function sameQuestion(a: Question, b: Question): boolean {
  return a.name.toLowerCase() === b.name.toLowerCase() && a.type === b.type && (a.class ?? "IN") === (b.class ?? "IN");
}

/** The OPT record of an answer to an EDNS query: our payload size and the client's DO bit. */
function optRecord(edns: Edns): Answer {
  const opt = { type: "OPT" as const, name: ".", data: [] as OptionData[], udpPayloadSize: ADVERTISED_UDP_SIZE, flags: edns.dnssecOk ? EDNS_DO : 0 };
  return opt;
}

/** What an answer to `query` is made of; the header bits come from the query and `rcode`. */
export interface ReplyParts {
  rcode: number;
  /** Extra flags from the upstream answer (AA). */
  flags?: number;
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/**
 * Encodes the answer to `query`: its id, opcode, question, RD and CD are echoed, RA is set (this
 * forwarder recurses for its clients), and an OPT record is added when the query had one. Over
 * UDP an answer larger than the client accepts is replaced by an empty one with TC set, so the
 * client retries over TCP.
 */
export function encodeReply(query: Packet, parts: ReplyParts, maxBytes = Number.POSITIVE_INFINITY): Uint8Array {
  const edns = ednsOf(query);
  const queryFlags = query.flags ?? 0;
  const flags = (queryFlags & (OPCODE_MASK | RECURSION_DESIRED | CHECKING_DISABLED)) | RECURSION_AVAILABLE | (parts.flags ?? 0) | (parts.rcode & RCODE_MASK);
  const opt = edns === undefined ? [] : [optRecord(edns)];
  const reply: Packet = {
    type: "response",
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals: [...(parts.additionals ?? []), ...opt],
  };
  const bytes = encode(reply);
  if (bytes.length <= maxBytes) return bytes;
  return encode({ type: "response", id: reply.id, flags: flags | TRUNCATED_RESPONSE, questions: reply.questions, additionals: opt });
}

/**
 * An error answer to a message that did not decode: only its header is known, so the answer
 * echoes the id and opcode and carries no question (RFC 1035 §4.1.1).
 */
export function headerOnlyReply(header: Header, rcode: number): Uint8Array {
  const flags = (header.flags & (OPCODE_MASK | RECURSION_DESIRED | CHECKING_DISABLED)) | RECURSION_AVAILABLE | (rcode & RCODE_MASK);
  return encode({ type: "response", id: header.id, flags });
}

/** The rcode of a decoded message. */
export function rcodeOf(packet: Packet): number {
  return (packet.flags ?? 0) & RCODE_MASK;
}

/** Builds a query the way a stub resolver would: RD set, and id 0 for DoH (RFC 8484 §4.1). */
export function encodeQuery(question: Question, id = 0): Uint8Array {
  return encode({ type: "query", id, flags: RECURSION_DESIRED, questions: [question] });
}
