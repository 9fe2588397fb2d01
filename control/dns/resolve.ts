import type { Answer } from "@leichtgewicht/dns-packet";
import { normalizeName } from "./names.ts";
import type { DnsRecord, SoaRecord } from "./records.ts";
import type { ZoneIndex } from "./zone.ts";

/**
 * Answers one question from a zone index, as an authoritative server for the cluster zone and
 * `thisdcos.directory`. Names outside both are flagged for the caller to forward.
 *
 * Negative answers follow RFC 2308, which is also where Mesos-DNS lands for A/AAAA: a name
 * with records of other types (or with names below it) is NOERROR with no answers (NODATA),
 * any other name is NXDOMAIN, and both carry the zone's SOA in the authority section.
 */

export type Rcode = "NOERROR" | "FORMERR" | "SERVFAIL" | "NXDOMAIN" | "NOTIMP" | "REFUSED";

export interface DnsQuestion {
  name: string;
  /** A dns-packet type mnemonic: `A`, `SRV`, `ANY`, or `UNKNOWN_65` for types it does not name. */
  type: string;
}

/**
 * A DNS answer before encoding: the sections and the header bits that depend on the zone.
 * Zone answers hold `DnsRecord`s; any dns-packet record (TXT, MX… from elsewhere) also encodes.
 */
export interface DnsAnswer<R extends Answer = Answer> {
  rcode: Rcode;
  authoritative: boolean;
  answers: R[];
  authorities: R[];
  additionals: R[];
}

export type Resolution = ({ outside: false } & DnsAnswer<DnsRecord>) | { outside: true };

/** CNAMEs only point at the master's host name, so a chain is one link; the bound is defensive. */
const MAX_CNAME_CHAIN = 8;

/** An answer carrying only an rcode, e.g. REFUSED for an outside name when forwarding is off. */
export function emptyAnswer(rcode: Rcode, authoritative = false): DnsAnswer<DnsRecord> {
  return { rcode, authoritative, answers: [], authorities: [], additionals: [] };
}

/** The authoritative apex a name falls under (the longest that matches), if any. */
export function zoneApex(zone: Pick<ZoneIndex, "apexes">, name: string): string | undefined {
  const n = normalizeName(name);
  return zone.apexes.find((apex) => n === apex || n.endsWith(`.${apex}`));
}

/** Fisher–Yates on a copy, with the caller's random source (`() => [0, 1)`). */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}

/**
 * Resolves `question` against `zone`. Answers are shuffled (Mesos-DNS `shuffleAnswers`), SRV
 * answers bring their targets' addresses as additionals, and an in-zone name that does not
 * exist is NXDOMAIN. Types the zone never holds (PTR, MX, TXT…) get NODATA for names that
 * exist, as Mesos-DNS's `handleEmpty` does.
 */
export function resolve(zone: ZoneIndex, question: DnsQuestion, random: () => number): Resolution {
  const name = normalizeName(question.name);
  const apex = zoneApex(zone, name);
  if (apex === undefined) return { outside: true };
  const type = question.type.toUpperCase();
  const found = lookup(zone, name, type, random, 0);
  const soa = found.end === "external" ? undefined : zone.soa.get(zoneApex(zone, found.last) ?? apex);
  const negative = found.end === "nodata" || found.end === "nxdomain";
  return {
    outside: false,
    rcode: found.end === "nxdomain" ? "NXDOMAIN" : "NOERROR",
    authoritative: true,
    answers: found.answers,
    authorities: negative && soa ? [soa] : [],
    additionals: additionalsFor(zone, found.answers),
  };
}

interface Lookup {
  answers: DnsRecord[];
  /** How the chain ended: with data, NODATA, NXDOMAIN, or at a CNAME pointing outside the zones. */
  end: "data" | "nodata" | "nxdomain" | "external";
  /** The last name looked up, whose apex supplies the SOA of a negative answer. */
  last: string;
}

function lookup(zone: ZoneIndex, name: string, type: string, random: () => number, depth: number): Lookup {
  const records = zone.records.get(name);
  if (!records) return { answers: [], end: zone.nonTerminals.has(name) ? "nodata" : "nxdomain", last: name };
  const matching = type === "ANY" ? records : records.filter((r) => r.type === type);
  if (matching.length > 0) return { answers: shuffle(matching, random), end: "data", last: name };
  const cname = records.find((r) => r.type === "CNAME");
  if (!cname || depth >= MAX_CNAME_CHAIN) return { answers: [], end: "nodata", last: name };
  const target = normalizeName(String(cname.data));
  if (zoneApex(zone, target) === undefined) return { answers: [cname], end: "external", last: name };
  const next = lookup(zone, target, type, random, depth + 1);
  return { ...next, answers: [cname, ...next.answers] };
}

/** Addresses of SRV targets and NS hosts that the zone holds, once per name. */
function additionalsFor(zone: ZoneIndex, answers: DnsRecord[]): DnsRecord[] {
  const targets = new Set<string>();
  for (const r of answers) {
    if (r.type === "SRV") targets.add(r.data.target);
    else if (r.type === "NS") targets.add(r.data);
  }
  const out: DnsRecord[] = [];
  for (const target of targets) {
    for (const r of zone.records.get(target) ?? []) if (r.type === "A" || r.type === "AAAA") out.push(r);
  }
  return out;
}

/** The SOA of the apex `name` falls under, for callers building their own negative answers. */
export function soaFor(zone: ZoneIndex, name: string): SoaRecord | undefined {
  const apex = zoneApex(zone, name);
  return apex === undefined ? undefined : zone.soa.get(apex);
}
