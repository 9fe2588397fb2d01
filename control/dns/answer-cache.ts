import type { DnsRecord } from "./records.ts";
import type { DnsAnswer } from "./resolve.ts";
import { encodeResponse, minTtl, writeMessageId, type DnsQuery, type EncodeOptions } from "./wire.ts";

/**
 * Encoded answers to the wire queries one copy of a zone has answered, so a query asked again
 * (the steady state: resolvers and forwarders ask the same few names over and over) costs a
 * lookup and a copy instead of a decode, a resolution and an encode. The Worker keeps one per
 * copy of a zone and host (edge.ts), so they end with the copy they were answered from.
 *
 * - Found by the query's bytes after its id (a hash of them, then a comparison): the same bytes
 *   decode to the same question, flags and EDNS, so the same zone gives them the same answer.
 *   The id is written into the answer's bytes.
 * - Only positive answers are kept: a negative one must be confirmed with the cluster's object
 *   each time it is given (edge.ts).
 * - Order: the resolver shuffles a record set (Mesos-DNS's `shuffleAnswers`); a kept answer
 *   goes round the rotations of one shuffle instead, one per query (BIND's cyclic order), so
 *   every record comes first equally often. Sets of more than MAX_ROTATIONS records, and
 *   answers mixing types (a CNAME before its target's addresses, whose order matters), are not
 *   kept: they are resolved and shuffled on every query.
 */

/** Record sets up to this size are kept, with one encoding per rotation. */
export const MAX_ROTATIONS = 32;
/** Queries longer than this (a plain query is about 40 bytes, 50 with EDNS) are not kept. */
const MAX_QUERY_BYTES = 512;
const HEADER_SIZE = 12;
/** Distinct queries kept per copy and host; past it the cache starts again. */
const MAX_ENTRIES = 4_096;
/**
 * Bytes kept per copy and host (queries and encodings); past it the cache starts again. Queries
 * differing only in a name's case or EDNS size are distinct, so entries alone do not bound it.
 */
export const MAX_CACHE_BYTES = 1024 * 1024;

/** FNV-1a (32-bit) of a query's bytes after its id; undefined for a query not to keep. */
function hashOf(bytes: Uint8Array): number | undefined {
  if (bytes.length < HEADER_SIZE || bytes.length > MAX_QUERY_BYTES) return undefined;
  let hash = 0x811c9dc5;
  for (let i = 2; i < bytes.length; i++) hash = Math.imul(hash ^ (bytes[i] ?? 0), 0x01000193);
  return hash >>> 0;
}

/** Whether two queries are the same bytes after their ids. */
function sameQuery(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 2; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One kept answer: its encodings by rotation, made when first given. */
export class CachedAnswer {
  /** Seconds a DoH client may cache it (the smallest TTL in it). */
  readonly ttl: number;
  private readonly encoded: (Uint8Array | undefined)[];
  private next = 0;

  constructor(
    /** The query's bytes, to tell it from another of the same hash. */
    readonly queryBytes: Uint8Array,
    private readonly query: DnsQuery,
    private readonly answer: DnsAnswer<DnsRecord>,
    private readonly options: EncodeOptions,
    /** Told the size of each encoding as it is made. */
    private readonly grew: (bytes: number) => void,
  ) {
    this.ttl = minTtl(answer);
    this.encoded = new Array<Uint8Array | undefined>(Math.max(1, answer.answers.length));
  }

  /**
   * The next rotation's encoding with `id` written in its header. The same bytes come back
   * for this rotation next time, with their id overwritten: a Response copies its body when it
   * is made (test/worker/dns.test.ts checks that workerd does), so pass them to one at once.
   */
  take(id: number): Uint8Array {
    const rotation = this.next;
    this.next = (rotation + 1) % this.encoded.length;
    let bytes = this.encoded[rotation];
    if (bytes === undefined) {
      const answers = this.answer.answers;
      const rotated = [...answers.slice(rotation), ...answers.slice(0, rotation)];
      bytes = encodeResponse(this.query, { ...this.answer, answers: rotated }, this.options);
      this.encoded[rotation] = bytes;
      this.grew(bytes.length);
    }
    return writeMessageId(bytes, id);
  }
}

/** The kept answers of one copy of a zone, for one host. */
export class AnswerCache {
  /** By the hash of their query's bytes; one answer per hash (a later one of the same hash replaces it). */
  private readonly entries = new Map<number, CachedAnswer>();
  private bytes = 0;
  private readonly grew = (bytes: number) => {
    this.bytes += bytes;
    // An answer taken from the cache keeps working when the cache starts again: it is only dropped from it.
    if (this.bytes > MAX_CACHE_BYTES) this.clear();
  };

  /** What the cache holds, in bytes. */
  get size(): number {
    return this.bytes;
  }

  /** The answer kept for a query of these bytes (whatever its id), if there is one. */
  find(queryBytes: Uint8Array): CachedAnswer | undefined {
    const hash = hashOf(queryBytes);
    const kept = hash === undefined ? undefined : this.entries.get(hash);
    return kept !== undefined && sameQuery(kept.queryBytes, queryBytes) ? kept : undefined;
  }

  /**
   * Keeps the answer to `query` (decoded from `queryBytes`) when it may be kept (see the module
   * comment) and returns it; undefined when it may not.
   */
  remember(queryBytes: Uint8Array, query: DnsQuery, answer: DnsAnswer<DnsRecord>, options: EncodeOptions): CachedAnswer | undefined {
    const hash = hashOf(queryBytes);
    if (hash === undefined || !isKeepable(answer)) return undefined;
    if (this.entries.size >= MAX_ENTRIES) this.clear();
    // Its own copy: the caller's bytes may be a view of a buffer it reuses.
    const cached = new CachedAnswer(queryBytes.slice(), query, answer, options, this.grew);
    this.entries.set(hash, cached);
    this.grew(queryBytes.length);
    return cached;
  }

  private clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/** A positive answer whose records are of one type and few enough to rotate. */
function isKeepable(answer: DnsAnswer<DnsRecord>): boolean {
  const records = answer.answers;
  const first = records[0];
  if (answer.rcode !== "NOERROR" || first === undefined || records.length > MAX_ROTATIONS) return false;
  return records.every((r) => r.type === first.type);
}
