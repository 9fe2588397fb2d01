import type { Answer, Packet, Question } from "@leichtgewicht/dns-packet";
import { type AnswerCache, cacheKey } from "./answer-cache.ts";
import type { DohAnswer } from "./doh-client.ts";
import { RCODE, decodeStrict, ednsOf, encodeReply, headerOnlyReply, peekHeader, rcodeOf, udpLimit } from "./messages.ts";
import type { Transport } from "./plain-client.ts";
import { UpstreamError } from "./upstream-error.ts";
import { inZones } from "./zones.ts";

/**
 * The forwarder's decisions, apart from any socket: turn one client message into the answer to
 * send back, or into nothing (drop). Names in the cluster zones are answered through the DoH
 * endpoint and cached; everything else is passed to the machine's resolvers untouched.
 * `answer` never throws: any failure becomes SERVFAIL, any undecodable query FORMERR.
 */

/** Asks the cluster's DoH endpoint one question. */
export interface ZoneUpstream {
  query(question: Question): Promise<DohAnswer>;
}

/** Passes a query to the machine's resolvers and returns their answer as it came. */
export interface PlainUpstream {
  forward(query: Uint8Array, question: Question, transport: Transport): Promise<Uint8Array>;
}

export interface ResolverOptions {
  zones: readonly string[];
  doh: ZoneUpstream;
  plain: PlainUpstream;
  cache: AnswerCache;
  /** Called for every upstream failure that became a SERVFAIL; rate-limits its own logging. */
  onUpstreamError: (error: UpstreamError) => void;
}

const AA_MASK = 0x0400;

/** See the module comment. */
export class Resolver {
  /** Zone questions on their way to the DoH endpoint, so identical ones share one request. */
  private readonly pending = new Map<string, Promise<DohAnswer>>();

  constructor(private readonly options: ResolverOptions) {}

  /** The answer to `message`, or undefined to drop it (not even a header, or not a query). */
  async answer(message: Uint8Array, transport: Transport): Promise<Uint8Array | undefined> {
    try {
      return await this.route(message, transport);
    } catch (error) {
      // Every expected failure is handled below; this is the promise that no input crashes us.
      const header = peekHeader(message);
      this.options.onUpstreamError(new UpstreamError(`internal error: ${error instanceof Error ? error.message : String(error)}`, "forwarder"));
      return header === undefined || header.isResponse ? undefined : headerOnlyReply(header, RCODE.SERVFAIL);
    }
  }

  private async route(message: Uint8Array, transport: Transport): Promise<Uint8Array | undefined> {
    const header = peekHeader(message);
    // Answering a response could bounce between two forwarders for ever.
    if (header === undefined || header.isResponse) return undefined;
    if (header.opcode !== 0) return headerOnlyReply(header, RCODE.NOTIMP);
    const query = decodeStrict(message);
    const question = query?.questions?.length === 1 ? query.questions[0] : undefined;
    if (query === undefined || question === undefined) return headerOnlyReply(header, RCODE.FORMERR);
    const maxBytes = transport === "udp" ? udpLimit(ednsOf(query)) : undefined;
    if (!inZones(question.name, this.options.zones)) return this.forwardPlain(message, query, question, transport);
    // The cluster's names are Internet-class only; other classes would not survive the codec either.
    if ((question.class ?? "IN") !== "IN") return encodeReply(query, { rcode: RCODE.REFUSED }, maxBytes);
    return this.answerZone(query, question, maxBytes);
  }

  private async forwardPlain(message: Uint8Array, query: Packet, question: Question, transport: Transport): Promise<Uint8Array> {
    try {
      return await this.options.plain.forward(message, question, transport);
    } catch (error) {
      this.options.onUpstreamError(asUpstreamError(error, "resolv.conf"));
      return encodeReply(query, { rcode: RCODE.SERVFAIL });
    }
  }

  private async answerZone(query: Packet, question: Question, maxBytes: number | undefined): Promise<Uint8Array> {
    const key = cacheKey(question);
    const hit = this.options.cache.get(key);
    if (hit !== undefined) return zoneReply(query, question, hit.answer, hit.ageSeconds, maxBytes);
    try {
      const { answer } = await this.askDoh(key, question);
      return zoneReply(query, question, answer, 0, maxBytes);
    } catch (error) {
      this.options.onUpstreamError(asUpstreamError(error, "doh"));
      return encodeReply(query, { rcode: RCODE.SERVFAIL }, maxBytes);
    }
  }

  /** One DoH request per distinct question at a time; the answer is cached when it may be. */
  private askDoh(key: string, question: Question): Promise<DohAnswer> {
    const pending = this.pending.get(key);
    if (pending !== undefined) return pending;
    const request = this.options.doh
      .query({ name: question.name, type: question.type, class: "IN" })
      .then((result) => {
        this.options.cache.put(key, result.answer, result.maxAgeSeconds, result.leaseMs);
        return result;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, request);
    return request;
  }
}

function asUpstreamError(error: unknown, upstream: string): UpstreamError {
  return error instanceof UpstreamError ? error : new UpstreamError(error instanceof Error ? error.message : String(error), upstream);
}

/**
 * The client's answer from an upstream (or cached) one: the client's id, question and flags,
 * the upstream's AA and rcode, TTLs lowered by the time the answer spent in the cache, and owner
 * names that repeat the question spelled as the client spelled it (0x20 case randomization).
 */
function zoneReply(query: Packet, question: Question, answer: Packet, ageSeconds: number, maxBytes: number | undefined): Uint8Array {
  const asked = question.name.toLowerCase();
  const adjust = (records: readonly Answer[] | undefined): Answer[] =>
    (records ?? [])
      .filter((record) => record.type !== "OPT")
      .map((record) => ({
        ...record,
        name: record.name.toLowerCase() === asked ? question.name : record.name,
        ttl: Math.max(0, (record.ttl ?? 0) - ageSeconds),
      }));
  return encodeReply(
    query,
    {
      rcode: rcodeOf(answer),
      flags: (answer.flags ?? 0) & AA_MASK,
      answers: adjust(answer.answers),
      authorities: adjust(answer.authorities),
      additionals: adjust(answer.additionals),
    },
    maxBytes,
  );
}
