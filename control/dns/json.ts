import type { Answer, Packet } from "@leichtgewicht/dns-packet";
import * as dnsTypes from "@leichtgewicht/dns-packet/types.js";
import { fqdn } from "./names.ts";
import type { DnsAnswer, Rcode } from "./resolve.ts";
import type { DnsQuery } from "./wire.ts";

/**
 * The JSON dialect of DoH (`application/dns-json`): Google's `/resolve` parameters and the
 * response shape Google and Cloudflare share. There is no RFC; where they differ, TXT data
 * follows Cloudflare (quoted), and empty sections are left out as both do.
 */

/** Types the dns-packet tables do not name but clients ask for (RFC 9460). */
const EXTRA_TYPES: Record<string, number> = { SVCB: 64, HTTPS: 65 };
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

export type JsonQueryParse =
  | { ok: true; name: string; type: string; checkingDisabled: boolean; dnssecOk: boolean }
  | { ok: false; parameter: string; message: string };

export interface JsonRecord {
  name: string;
  type: number;
  TTL: number;
  data: string;
}

export interface JsonResponse {
  Status: number;
  TC: boolean;
  RD: boolean;
  RA: boolean;
  AD: boolean;
  CD: boolean;
  Question: { name: string; type: number }[];
  Answer?: JsonRecord[];
  Authority?: JsonRecord[];
  Additional?: JsonRecord[];
}

const RCODES: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

/**
 * Reads `?name=&type=&cd=&do=`. `name` is required, 1–253 characters with labels of 1–63
 * (a trailing dot allowed); `type` is 1–65535 or a mnemonic in any case, default A. Errors
 * name the parameter, for an HTTP 400.
 */
export function parseJsonQuery(params: URLSearchParams): JsonQueryParse {
  const raw = params.get("name");
  if (raw === null || raw === "") return { ok: false, parameter: "name", message: "is required" };
  const nameProblem = checkName(raw);
  if (nameProblem) return { ok: false, parameter: "name", message: nameProblem };
  const type = parseType(params.get("type"));
  if (type === null) return { ok: false, parameter: "type", message: "must be a record type number 1-65535 or a mnemonic such as A, AAAA, SRV" };
  const cd = parseFlag(params.get("cd"));
  if (cd === null) return { ok: false, parameter: "cd", message: "must be 0, 1, false or true" };
  const dnssecOk = parseFlag(params.get("do"));
  if (dnssecOk === null) return { ok: false, parameter: "do", message: "must be 0, 1, false or true" };
  const name = raw === "." ? "" : raw.replace(/\.$/, "");
  return { ok: true, name, type, checkingDisabled: cd, dnssecOk };
}

function checkName(raw: string): string | undefined {
  if (raw === ".") return undefined;
  const name = raw.replace(/\.$/, "");
  if (name.length < 1 || name.length > MAX_NAME_LENGTH) return `must be 1-${MAX_NAME_LENGTH} characters`;
  if (!/^[\x21-\x7e]+$/.test(name)) return "must be printable ASCII without spaces (use punycode for other names)";
  const bad = name.split(".").find((label) => label.length < 1 || label.length > MAX_LABEL_LENGTH);
  if (bad !== undefined) return `has a label of ${bad.length} characters; labels are 1-${MAX_LABEL_LENGTH}`;
  return undefined;
}

/** A type parameter as a dns-packet mnemonic (`UNKNOWN_65` for numbers it has no name for), or null. */
export function parseType(raw: string | null): string | null {
  if (raw === null || raw === "") return "A";
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    return n >= 1 && n <= 65_535 ? dnsTypes.toString(n) : null;
  }
  const upper = raw.toUpperCase();
  const extra = EXTRA_TYPES[upper];
  if (extra !== undefined) return dnsTypes.toString(extra);
  if (upper.startsWith("UNKNOWN_")) return null;
  return dnsTypes.toType(upper) === 0 ? null : upper;
}

function parseFlag(raw: string | null): boolean | null {
  if (raw === null || raw === "" || raw === "0" || raw === "false") return false;
  if (raw === "1" || raw === "true") return true;
  return null;
}

/** The query a parsed JSON request stands for, to resolve or forward like a wire query. */
export function jsonToQuery(parsed: Extract<JsonQueryParse, { ok: true }>): DnsQuery {
  return {
    id: 0,
    name: parsed.name,
    type: parsed.type,
    recursionDesired: true,
    checkingDisabled: parsed.checkingDisabled,
    edns: parsed.dnssecOk ? { udpPayloadSize: 1232, dnssecOk: true } : null,
  };
}

/** Renders a zone answer (RA true when outside names are forwarded). */
export function renderJson(query: DnsQuery, answer: DnsAnswer, recursionAvailable = true): JsonResponse {
  return render({
    question: { name: query.name, type: query.type },
    status: RCODES[answer.rcode],
    bits: { TC: false, RD: query.recursionDesired, RA: recursionAvailable, AD: false, CD: query.checkingDisabled },
    answers: answer.answers,
    authorities: answer.authorities,
    additionals: answer.additionals,
  });
}

/** Renders any decoded response, e.g. one forwarded from the upstream resolver. */
export function renderJsonPacket(packet: Packet): JsonResponse {
  const flags = packet.flags ?? 0;
  const q = packet.questions?.[0];
  return render({
    question: q ? { name: q.name, type: q.type } : undefined,
    status: flags & 0xf,
    bits: { TC: (flags & 0x200) !== 0, RD: (flags & 0x100) !== 0, RA: (flags & 0x80) !== 0, AD: (flags & 0x20) !== 0, CD: (flags & 0x10) !== 0 },
    answers: packet.answers ?? [],
    authorities: packet.authorities ?? [],
    additionals: (packet.additionals ?? []).filter((a) => a.type !== "OPT"),
  });
}

interface RenderInput {
  question: { name: string; type: string } | undefined;
  status: number;
  bits: Pick<JsonResponse, "TC" | "RD" | "RA" | "AD" | "CD">;
  answers: readonly Answer[];
  authorities: readonly Answer[];
  additionals: readonly Answer[];
}

function render(input: RenderInput): JsonResponse {
  const out: JsonResponse = {
    Status: input.status,
    ...input.bits,
    Question: input.question ? [{ name: fqdn(input.question.name), type: dnsTypes.toType(input.question.type) }] : [],
  };
  if (input.answers.length > 0) out.Answer = input.answers.map(jsonRecord);
  if (input.authorities.length > 0) out.Authority = input.authorities.map(jsonRecord);
  if (input.additionals.length > 0) out.Additional = input.additionals.map(jsonRecord);
  return out;
}

/** One record in the JSON dialect: names with trailing dots, `data` in presentation format. */
export function jsonRecord(record: Answer): JsonRecord {
  return { name: fqdn(record.name), type: dnsTypes.toType(record.type), TTL: record.ttl ?? 0, data: presentData(record) };
}

function presentData(record: Answer): string {
  switch (record.type) {
    case "A":
    case "AAAA":
      return record.data;
    case "CNAME":
    case "DNAME":
    case "NS":
    case "PTR":
      return fqdn(record.data);
    case "SRV":
      return `${record.data.priority ?? 0} ${record.data.weight ?? 0} ${record.data.port ?? 0} ${fqdn(record.data.target)}`;
    case "SOA": {
      const d = record.data;
      return `${fqdn(d.mname)} ${fqdn(d.rname)} ${d.serial ?? 0} ${d.refresh ?? 0} ${d.retry ?? 0} ${d.expire ?? 0} ${d.minimum ?? 0}`;
    }
    case "MX":
      return `${record.data.preference ?? 0} ${fqdn(record.data.exchange)}`;
    case "TXT":
      return (Array.isArray(record.data) ? record.data : [record.data]).map((s) => quote(s)).join(" ");
    case "CAA":
      return `${record.data.flags ?? 0} ${record.data.tag} ${quote(record.data.value)}`;
    default:
      return record.data instanceof Uint8Array ? generic(record.data) : JSON.stringify(record.data);
  }
}

/** A character-string in zone-file form: quoted, with `"` and `\` escaped and non-printables as `\DDD`. */
function quote(value: string | Uint8Array): string {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  let out = "";
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${b.toString().padStart(3, "0")}`;
  }
  return `"${out}"`;
}

/** RFC 3597 generic data: `\# <length> <hex>`. */
function generic(data: Uint8Array): string {
  const hex = [...data].map((b) => b.toString(16).padStart(2, "0")).join("");
  return hex === "" ? "\\# 0" : `\\# ${data.length} ${hex}`;
}
