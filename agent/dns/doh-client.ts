import type { Packet, Question } from "@leichtgewicht/dns-packet";
import { DNS_LEASE_HEADER } from "../../protocol/index.ts";
import { decodeStrict, encodeQuery, sameQuestion } from "./messages.ts";
import { UpstreamError } from "./upstream-error.ts";

/**
 * Asks the control plane's DoH endpoint (RFC 8484 POST, `application/dns-message`). Bun's fetch
 * keeps HTTP/1.1 connections alive and reuses them once a response body has been read to the
 * end, so every response body is consumed, whatever the status. HTTP/1.1 runs one request per
 * connection at a time, so the number of requests in flight is also the number of connections:
 * it is capped, and queries beyond the cap wait in a bounded queue.
 */

const DNS_MESSAGE = "application/dns-message";
export const DEFAULT_DOH_TIMEOUT_MS = 3_000;
export const DEFAULT_DOH_MAX_IN_FLIGHT = 16;
const DEFAULT_DOH_MAX_QUEUED = 1_024;
/** The largest DNS message there is; a bigger body is not an answer. */
const MAX_MESSAGE_BYTES = 65_535;

export interface DohClientOptions {
  url: string;
  /** The `Authorization: Bearer` value, read per request (the agent gets it at registration). */
  bearer?: () => string | undefined;
  timeoutMs?: number;
  maxInFlight?: number;
  maxQueued?: number;
}

/**
 * A decoded DoH answer, the `Cache-Control: max-age` it came with, and the milliseconds left of
 * the DCX control plane's DNS lease (protocol/dns-lease.ts) when it sent one.
 */
export interface DohAnswer {
  answer: Packet;
  maxAgeSeconds?: number;
  leaseMs?: number;
}

/** See the module comment. */
export class DohClient {
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: DohClientOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DOH_TIMEOUT_MS;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_DOH_MAX_IN_FLIGHT;
    this.maxQueued = options.maxQueued ?? DEFAULT_DOH_MAX_QUEUED;
  }

  /** Asks one question; throws an UpstreamError on any failure (network, status, timeout, body). */
  async query(question: Question): Promise<DohAnswer> {
    await this.slot();
    try {
      return await this.post(question);
    } finally {
      // A waiter inherits this slot as it is, so the count never exceeds the cap.
      const next = this.waiting.shift();
      if (next === undefined) this.inFlight -= 1;
      else next();
    }
  }

  /** Takes a request slot, waiting for one when all are busy: an ending request hands its slot over. */
  private async slot(): Promise<void> {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight += 1;
      return;
    }
    if (this.waiting.length >= this.maxQueued) throw new UpstreamError(`${this.waiting.length} DoH queries already waiting`, "doh");
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private async post(question: Question): Promise<DohAnswer> {
    const { response, body } = await this.exchange(encodeQuery(question));
    if (response.status !== 200) throw new UpstreamError(`HTTP ${response.status}`, "doh");
    const type = response.headers.get("content-type") ?? "";
    if (!type.toLowerCase().startsWith(DNS_MESSAGE)) throw new UpstreamError(`answer has content type '${type}', not ${DNS_MESSAGE}`, "doh");
    if (body.length > MAX_MESSAGE_BYTES) throw new UpstreamError(`answer of ${body.length} bytes is larger than a DNS message`, "doh");
    const answer = decodeStrict(body);
    const asked = answer?.questions?.[0];
    if (answer === undefined || answer.type !== "response" || asked === undefined || !sameQuestion(asked, question)) {
      throw new UpstreamError("answer is not a DNS response to the question asked", "doh");
    }
    return { answer, maxAgeSeconds: maxAge(response.headers.get("cache-control")), leaseMs: leaseOf(response.headers.get(DNS_LEASE_HEADER)) };
  }

  private exchange(query: Uint8Array): Promise<{ response: Response; body: Uint8Array }> {
    const headers: Record<string, string> = { "content-type": DNS_MESSAGE, accept: DNS_MESSAGE };
    const bearer = this.options.bearer?.();
    if (bearer !== undefined && bearer !== "") headers.authorization = `Bearer ${bearer}`;
    return exchangeWithRetry(this.options.url, headers, query, this.timeoutMs);
  }
}

/**
 * Posts `query` and reads the whole body (which frees the connection for reuse). A network
 * failure is retried once within the same deadline: a kept-alive connection the server closed
 * just as it was reused fails that way, and a fresh connection then works.
 */
async function exchangeWithRetry(
  url: string,
  headers: Record<string, string>,
  query: Uint8Array,
  timeoutMs: number,
): Promise<{ response: Response; body: Uint8Array }> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, { method: "POST", headers, body: query, signal });
      return { response, body: new Uint8Array(await response.arrayBuffer()) };
    } catch (error) {
      if (signal.aborted) throw new UpstreamError(`no answer within ${timeoutMs} ms`, "doh");
      if (attempt >= 2) throw new UpstreamError(`request failed: ${error instanceof Error ? error.message : String(error)}`, "doh");
    }
  }
}

/** The `max-age` of a Cache-Control header (`no-cache`/`no-store` count as 0). */
export function maxAge(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/(^|,)\s*(no-cache|no-store)\s*(,|$)/i.test(header)) return 0;
  const match = /(^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(header);
  return match?.[2] === undefined ? undefined : Number(match[2]);
}

/** The lease header's milliseconds; undefined when absent or not a count (then only the TTL bounds the cache). */
export function leaseOf(header: string | null): number | undefined {
  if (header === null || !/^\d{1,9}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}
