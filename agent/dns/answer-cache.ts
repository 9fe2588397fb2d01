import type { Answer, Packet, Question } from "@leichtgewicht/dns-packet";
import { RCODE, rcodeOf } from "./messages.ts";

/**
 * The forwarder's cache of cluster-zone answers: an LRU map (a JS Map keeps insertion order, so
 * re-inserting on a hit moves an entry to the young end) whose entries expire after the answer's
 * own TTL. Only NOERROR and NXDOMAIN answers are kept; a SERVFAIL or REFUSED says nothing
 * lasting about the name.
 */

export const DEFAULT_CACHE_ENTRIES = 10_000;
/** The longest an answer is kept, whatever its TTL: tasks come and go. */
export const DEFAULT_CACHE_MAX_TTL_SECONDS = 60;

/** The cache key: name lowercased (RFC 4343), type and class. */
export function cacheKey(question: Question): string {
  return `${question.name.toLowerCase().replace(/\.$/, "")}|${question.type}|${question.class ?? "IN"}`;
}

/** The records of an answer that carry a TTL (the OPT pseudo-record does not). */
function realRecords(records: readonly Answer[] | undefined): Answer[] {
  return (records ?? []).filter((record) => record.type !== "OPT");
}

/**
 * How long `answer` may be cached, in seconds: the smallest TTL in the answer section, or for a
 * negative answer the SOA's (RFC 2308 §5: the smaller of its TTL and MINIMUM), capped at
 * `capSeconds` and at an HTTP `max-age` when the DoH endpoint sent one. 0 means do not cache.
 */
export function cacheTtlSeconds(answer: Packet, capSeconds: number, maxAgeSeconds?: number): number {
  const rcode = rcodeOf(answer);
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return 0;
  const answers = realRecords(answer.answers);
  let ttl: number | undefined;
  if (answers.length > 0) {
    ttl = Math.min(...answers.map((record) => record.ttl ?? 0));
  } else {
    const soa = realRecords(answer.authorities).find((record) => record.type === "SOA");
    if (soa?.type === "SOA") ttl = Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
  }
  if (ttl === undefined) return 0;
  return Math.max(0, Math.min(ttl, capSeconds, maxAgeSeconds ?? Number.POSITIVE_INFINITY));
}

/** A cache hit: the answer as stored, and how many whole seconds it has been held. */
export interface CacheHit {
  answer: Packet;
  ageSeconds: number;
}

interface Entry {
  answer: Packet;
  storedAtMs: number;
  expiresAtMs: number;
}

export interface AnswerCacheOptions {
  maxEntries?: number;
  maxTtlSeconds?: number;
  now?: () => number;
}

/** See the module comment. */
export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxTtlSeconds: number;
  private readonly now: () => number;

  constructor(options: AnswerCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    this.maxTtlSeconds = options.maxTtlSeconds ?? DEFAULT_CACHE_MAX_TTL_SECONDS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live entry for `key`, marked most recently used; an expired one is dropped. */
  get(key: string): CacheHit | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    this.entries.delete(key);
    if (now >= entry.expiresAtMs) return undefined;
    this.entries.set(key, entry);
    return { answer: entry.answer, ageSeconds: Math.floor((now - entry.storedAtMs) / 1_000) };
  }

  /**
   * Keeps `answer` for its TTL (see cacheTtlSeconds), and no longer than `leaseMs` when the
   * control plane sent its DNS lease (protocol/dns-lease.ts: a killed task's address must be
   * gone from here before the agent that runs it signals it). Returns the ms it will be kept.
   */
  put(key: string, answer: Packet, maxAgeSeconds?: number, leaseMs?: number): number {
    const keepMs = Math.min(cacheTtlSeconds(answer, this.maxTtlSeconds, maxAgeSeconds) * 1_000, leaseMs ?? Number.POSITIVE_INFINITY);
    if (keepMs <= 0) return 0;
    const now = this.now();
    this.entries.delete(key);
    this.entries.set(key, { answer, storedAtMs: now, expiresAtMs: now + keepMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    return keepMs;
  }
}
