import * as dnsPacket from "@leichtgewicht/dns-packet";
import type { Answer, OptAnswer, Packet } from "@leichtgewicht/dns-packet";
import type { DnsAnswer, Rcode } from "./resolve.ts";
import { fromBase64, toBase64 } from "../../protocol/bytes.ts";

/**
 * RFC 1035 wire format for DoH (RFC 8484), through `@leichtgewicht/dns-packet`. Decoding
 * never throws: every input is a query, a reason to answer HTTP 400, or (when the header is
 * sound but the query is one DCX will not serve) a ready FORMERR/NOTIMP/REFUSED reply.
 */

/** The EDNS payload size advertised back (DNS flag day 2020); DoH itself is not bound by it. */
export const EDNS_PAYLOAD_SIZE = 1232;
/** A DNS message over TCP or DoH cannot exceed this. */
export const MAX_MESSAGE_SIZE = 65_535;
const HEADER_SIZE = 12;
const QR = 0x8000;
const OPCODE_BITS = 0x7800;
/** RFC 6891 BADVERS (16): the upper 8 bits go in the OPT record, the lower 4 in the header. */
const BADVERS = 16;
const PRINTABLE_NAME = /^[\x21-\x7e]+$/;

export interface DnsQuery {
  id: number;
  /** The name as sent, case preserved (echoed in the question), without the trailing dot. */
  name: string;
  /** dns-packet mnemonic: `A`, `SRV`, `ANY`, `UNKNOWN_65`… */
  type: string;
  recursionDesired: boolean;
  checkingDisabled: boolean;
  /** The query's OPT record, if it sent one. */
  edns: { udpPayloadSize: number; dnssecOk: boolean } | null;
}

export type DecodedQuery = { ok: true; query: DnsQuery } | { ok: false; reason: string; reply: Uint8Array | null };

type OptRecord = OptAnswer & { udpPayloadSize: number; flags: number; options: []; ednsVersion?: number; extendedRcode?: number };

const RCODES: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

/** The library's decoders record how far they read on the function object. */
function decodedBytes(): number {
  return (dnsPacket.decode as unknown as { bytes: number }).bytes;
}

/** Decodes a DoH request body into one IN-class question. Never throws. */
export function decodeQuery(bytes: Uint8Array): DecodedQuery {
  if (bytes.length < HEADER_SIZE) return refuse(`message is ${bytes.length} bytes, shorter than the 12-byte DNS header`);
  if (bytes.length > MAX_MESSAGE_SIZE) return refuse(`message is ${bytes.length} bytes, longer than ${MAX_MESSAGE_SIZE}`);
  const id = messageId(bytes);
  const flags = ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  const qdcount = ((bytes[4] ?? 0) << 8) | (bytes[5] ?? 0);
  if (flags & QR) return refuse("the QR bit is set: the message is a response, not a query");
  const opcode = (flags & OPCODE_BITS) >> 11;
  if (opcode !== 0) return reply(`opcode ${opcode} is not QUERY (0)`, id, flags, "NOTIMP");
  if (qdcount !== 1) return reply(`the message has ${qdcount} questions; exactly one is supported`, id, flags, "FORMERR");
  let packet: Packet;
  try {
    packet = dnsPacket.decode(bytes);
  } catch (err) {
    return refuse(`undecodable DNS message: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (decodedBytes() > bytes.length) return refuse("the message is truncated: its records run past its end");
  return checkQuestion(packet, id, flags);
}

function checkQuestion(packet: Packet, id: number, flags: number): DecodedQuery {
  const question = packet.questions?.[0];
  if (!question) return refuse("the message has no question");
  // Printable ASCII only: other bytes decode to U+FFFD and would not re-encode to the same name.
  if (!PRINTABLE_NAME.test(question.name)) return refuse("the question name has bytes outside printable ASCII");
  const opts = (packet.additionals ?? []).filter((a): a is OptRecord => a.type === "OPT");
  if (opts.length > 1) return reply("the message has more than one OPT record", id, flags, "FORMERR");
  const opt = opts[0];
  if (opt && (opt.ednsVersion ?? 0) > 0) return reply(`EDNS version ${opt.ednsVersion} is not supported`, id, flags, "BADVERS");
  const type = question.type.toUpperCase();
  if (type === "OPT") return reply("OPT is not a question type", id, flags, "FORMERR");
  if (type === "AXFR" || type === "IXFR") return reply(`${type} (zone transfer) is not supported`, id, flags, "NOTIMP", question);
  if (question.class !== "IN") return reply(`class ${question.class} is not served; only IN`, id, flags, "REFUSED", question);
  const query: DnsQuery = {
    id,
    name: question.name === "." ? "" : question.name,
    type,
    recursionDesired: (flags & dnsPacket.RECURSION_DESIRED) !== 0,
    checkingDisabled: (flags & dnsPacket.CHECKING_DISABLED) !== 0,
    edns: opt ? { udpPayloadSize: opt.udpPayloadSize, dnssecOk: (opt.flags & dnsPacket.DNSSEC_OK) !== 0 } : null,
  };
  return { ok: true, query };
}

function refuse(reason: string): DecodedQuery {
  return { ok: false, reason, reply: null };
}

/** A header-only (or question-echoing) error reply; the header parsed, so the client can match it. */
function reply(reason: string, id: number, flags: number, rcode: Rcode | "BADVERS", question?: dnsPacket.Question): DecodedQuery {
  const header = (flags & (OPCODE_BITS | dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED)) | dnsPacket.RECURSION_AVAILABLE;
  const additionals: Answer[] = [];
  if (rcode === "BADVERS") additionals.push(optRecord(EDNS_PAYLOAD_SIZE, 0, BADVERS >> 4));
  const code = rcode === "BADVERS" ? BADVERS & 0xf : RCODES[rcode];
  const packet: Packet = { type: "response", id, flags: header | code, questions: question ? [question] : [], additionals };
  return { ok: false, reason, reply: dnsPacket.encode(packet) };
}

function optRecord(udpPayloadSize: number, flags: number, extendedRcode = 0): OptRecord {
  return { type: "OPT", name: ".", data: [], udpPayloadSize, flags, options: [], extendedRcode };
}

export interface EncodeOptions {
  /** RA bit; true when outside names are forwarded (Mesos-DNS `RecurseOn`). */
  recursionAvailable?: boolean;
  /** Size limit; past it additionals are dropped, then answers, and TC is set. */
  maxSize?: number;
}

/**
 * Encodes the response to `query`: its id and question, RD and CD echoed, QR and RA set, AA for
 * authoritative answers, the rcode, and an OPT record when the query had one (payload size
 * min(query's, 1232), DO echoed, no options).
 */
export function encodeResponse(query: DnsQuery, answer: DnsAnswer, options: EncodeOptions = {}): Uint8Array {
  let flags = RCODES[answer.rcode];
  if (query.recursionDesired) flags |= dnsPacket.RECURSION_DESIRED;
  if (query.checkingDisabled) flags |= dnsPacket.CHECKING_DISABLED;
  if (options.recursionAvailable ?? true) flags |= dnsPacket.RECURSION_AVAILABLE;
  if (answer.authoritative) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
  const opt: Answer[] = [];
  if (query.edns) {
    const size = Math.max(512, Math.min(query.edns.udpPayloadSize, EDNS_PAYLOAD_SIZE));
    opt.push(optRecord(size, query.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0));
  }
  const packet: Packet = {
    type: "response",
    id: query.id,
    flags,
    questions: [{ name: query.name === "" ? "." : query.name, type: query.type, class: "IN" }],
    answers: answer.answers,
    authorities: answer.authorities,
    additionals: [...answer.additionals, ...opt],
  };
  return encodeWithin(packet, opt, options.maxSize ?? MAX_MESSAGE_SIZE);
}

/** Encodes, shedding additionals and then trailing answers (with TC) until the message fits. */
function encodeWithin(packet: Packet, opt: Answer[], maxSize: number): Uint8Array {
  if (dnsPacket.encodingLength(packet) <= maxSize) return dnsPacket.encode(packet);
  const slim: Packet = { ...packet, additionals: opt };
  if (dnsPacket.encodingLength(slim) <= maxSize) return dnsPacket.encode(slim);
  const answers = packet.answers ?? [];
  let low = 0;
  let high = answers.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (dnsPacket.encodingLength({ ...slim, answers: answers.slice(0, mid) }) <= maxSize) low = mid;
    else high = mid - 1;
  }
  const flags = (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE;
  return dnsPacket.encode({ ...slim, flags, answers: answers.slice(0, low), authorities: [] });
}

/**
 * The HTTP freshness of an answer (RFC 8484 §5.1): the smallest answer TTL; with no answers,
 * the SOA's min(TTL, MINIMUM) from the authority section (RFC 2308); otherwise 0.
 */
export function minTtl(message: { answers?: readonly Answer[]; authorities?: readonly Answer[] }): number {
  const answers = message.answers ?? [];
  if (answers.length > 0) return Math.min(...answers.map((a) => a.ttl ?? 0));
  const soa = (message.authorities ?? []).find((a) => a.type === "SOA");
  if (soa?.type !== "SOA") return 0;
  return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
}

/** Encodes a query (RD set), for clients and tests; id 0 keeps DoH GETs cacheable (RFC 8484 §4.1). */
export function encodeQuery(name: string, type: string, id = 0, edns?: { udpPayloadSize?: number; dnssecOk?: boolean }): Uint8Array {
  const additionals: Answer[] = edns ? [optRecord(edns.udpPayloadSize ?? EDNS_PAYLOAD_SIZE, edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0)] : [];
  return dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: "IN" }], additionals });
}

/** Decodes any DNS message (e.g. an upstream's response) without throwing. */
export function decodeMessage(bytes: Uint8Array): { ok: true; packet: Packet } | { ok: false; reason: string } {
  if (bytes.length < HEADER_SIZE) return { ok: false, reason: "message shorter than the DNS header" };
  try {
    const packet = dnsPacket.decode(bytes);
    if (decodedBytes() > bytes.length) return { ok: false, reason: "message truncated" };
    return { ok: true, packet };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** A copy of a DNS message with its id replaced (an upstream answer to an id-0 query, say). */
export function withMessageId(bytes: Uint8Array, id: number): Uint8Array {
  return writeMessageId(bytes.slice(), id);
}

/** The id of a DNS message (its first two bytes); 0 for one too short to have it. */
export function messageId(bytes: Uint8Array): number {
  return bytes.length >= 2 ? ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0) : 0;
}

/** Writes `id` into a DNS message's header, in place; returns the message. */
export function writeMessageId(bytes: Uint8Array, id: number): Uint8Array {
  if (bytes.length >= 2) {
    bytes[0] = (id >> 8) & 0xff;
    bytes[1] = id & 0xff;
  }
  return bytes;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Base64url without padding (RFC 4648 §5), as RFC 8484 GET requires. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes, true);
}

/** Decodes RFC 8484's `?dns=`; null for padding, characters outside the alphabet, or an impossible length. */
export function decodeBase64Url(text: string): Uint8Array | null {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null;
  return fromBase64(text);
}
