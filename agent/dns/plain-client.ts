import { isIP } from "node:net";
import type { Question } from "@leichtgewicht/dns-packet";
import type { HostPort } from "./listen-address.ts";
import { formatHostPort } from "./listen-address.ts";
import { RCODE, decodeHead, peekHeader, rcodeOf, sameQuestion } from "./messages.ts";
import { FrameReader, lengthPrefixed } from "./tcp-framing.ts";
import { UpstreamError } from "./upstream-error.ts";

/**
 * Forwards a query, byte for byte, to the machine's own resolvers and returns their answer byte
 * for byte: names outside the cluster zones are none of this forwarder's business. Each query
 * goes out on its own connected UDP socket, so its random source port and the id check guard
 * against spoofed answers, and an ICMP "port unreachable" fails it at once. A truncated UDP
 * answer is retried over TCP when the client itself asked over TCP; a UDP client gets the
 * truncated answer and retries over TCP, which then takes the TCP path here too.
 */

export const DEFAULT_UDP_TIMEOUT_MS = 2_000;
export const DEFAULT_TCP_TIMEOUT_MS = 4_000;
const TRUNCATED = 0x0200;

export type Transport = "udp" | "tcp";

export interface PlainClientOptions {
  /** The nameservers to ask, in order of preference; read on every query. */
  servers: () => HostPort[];
  udpTimeoutMs?: number;
  tcpTimeoutMs?: number;
}

/** See the module comment. */
export class PlainClient {
  /** Where the next query starts: the last server that answered, so a dead one costs one timeout. */
  private preferred = 0;
  private readonly udpTimeoutMs: number;
  private readonly tcpTimeoutMs: number;

  constructor(private readonly options: PlainClientOptions) {
    this.udpTimeoutMs = options.udpTimeoutMs ?? DEFAULT_UDP_TIMEOUT_MS;
    this.tcpTimeoutMs = options.tcpTimeoutMs ?? DEFAULT_TCP_TIMEOUT_MS;
  }

  /**
   * Asks each nameserver in turn, starting with the preferred one, until one answers with
   * something other than SERVFAIL or REFUSED; if none does, the last such answer is returned.
   * Throws an UpstreamError when no nameserver answered at all.
   */
  async forward(query: Uint8Array, question: Question, transport: Transport): Promise<Uint8Array> {
    const servers = this.options.servers();
    if (servers.length === 0) throw new UpstreamError("resolv.conf lists no nameserver other than this forwarder", "resolv.conf");
    let lastAnswer: Uint8Array | undefined;
    let failure = "";
    for (let attempt = 0; attempt < servers.length; attempt++) {
      const index = (this.preferred + attempt) % servers.length;
      const server = servers[index];
      if (server === undefined) continue;
      try {
        const answer = await this.exchange(server, query, question, transport);
        const rcode = rcodeOf(decodeHead(answer) ?? {});
        if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
          lastAnswer = answer;
          continue;
        }
        this.preferred = index;
        return answer;
      } catch (error) {
        failure = `${formatHostPort(server)}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    if (lastAnswer !== undefined) return lastAnswer;
    throw new UpstreamError(failure, "resolv.conf");
  }

  private async exchange(server: HostPort, query: Uint8Array, question: Question, transport: Transport): Promise<Uint8Array> {
    const answer = await udpExchange(server, query, question, this.udpTimeoutMs);
    const truncated = ((peekHeader(answer)?.flags ?? 0) & TRUNCATED) !== 0;
    if (!truncated || transport === "udp") return answer;
    return tcpExchange(server, query, question, this.tcpTimeoutMs);
  }
}

/** True when `answer` answers `query`: a response with its id and its question. */
function answers(answer: Uint8Array, queryId: number, question: Question): boolean {
  const head = decodeHead(answer);
  const asked = head?.questions?.[0];
  return head?.type === "response" && head.id === queryId && asked !== undefined && sameQuestion(asked, question);
}

/** Runs `start` with a settle-once resolve/reject and a deadline; `cleanup` runs when it settles. */
function exchangeWithDeadline(timeoutMs: number, start: (settle: (outcome: Uint8Array | Error) => void) => () => void): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let cleanup: () => void = () => {};
    const settle = (outcome: Uint8Array | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(() => settle(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    cleanup = start(settle);
    if (settled) cleanup();
  });
}

function udpExchange(server: HostPort, query: Uint8Array, question: Question, timeoutMs: number): Promise<Uint8Array> {
  const queryId = peekHeader(query)?.id ?? 0;
  return exchangeWithDeadline(timeoutMs, (settle) => {
    let closed = false;
    let socket: { close(): void } | undefined;
    Bun.udpSocket({
      hostname: isIP(server.host) === 6 ? "::" : "0.0.0.0",
      binaryType: "uint8array",
      connect: { hostname: server.host, port: server.port },
      socket: {
        data: (_socket, data) => {
          // Anything else on this port (a late or forged datagram) is ignored; the deadline stands.
          if (answers(data, queryId, question)) settle(data.slice());
        },
        error: (_socket, error) => settle(error),
      },
    }).then(
      (opened) => {
        socket = opened;
        if (closed) opened.close();
        else if (!opened.send(query)) settle(new Error("the query could not be sent"));
      },
      (error: unknown) => settle(error instanceof Error ? error : new Error(String(error))),
    );
    return () => {
      closed = true;
      socket?.close();
    };
  });
}

function tcpExchange(server: HostPort, query: Uint8Array, question: Question, timeoutMs: number): Promise<Uint8Array> {
  const queryId = peekHeader(query)?.id ?? 0;
  const reader = new FrameReader();
  return exchangeWithDeadline(timeoutMs, (settle) => {
    let closed = false;
    let socket: { end(): void } | undefined;
    Bun.connect({
      hostname: server.host,
      port: server.port,
      socket: {
        binaryType: "uint8array",
        open: (opened) => void opened.write(lengthPrefixed(query)),
        data: (_socket, data) => {
          for (const message of reader.push(data)) if (answers(message, queryId, question)) settle(message);
        },
        close: () => settle(new Error("the connection closed before an answer")),
        connectError: (_socket, error) => settle(error),
        error: (_socket, error) => settle(error),
      },
    }).then(
      (opened) => {
        socket = opened;
        if (closed) opened.end();
      },
      (error: unknown) => settle(error instanceof Error ? error : new Error(String(error))),
    );
    return () => {
      closed = true;
      socket?.end();
    };
  });
}
