import type { Server } from "bun";
import { AUTHORITATIVE_ANSWER, decode, encode } from "@leichtgewicht/dns-packet";
import type { Answer, Packet } from "@leichtgewicht/dns-packet";

/**
 * A stand-in for the control plane's DoH endpoint (`POST /c/{cluster}/dns-query`): it answers
 * from a table of records, NXDOMAIN with an SOA otherwise, and records every request so tests
 * can check what the forwarder sent and how often.
 */

/** One request as the fake saw it. */
export interface DohRequest {
  path: string;
  method: string;
  authorization: string | null;
  contentType: string | null;
  query: Packet;
  /** The client's TCP port: equal ports mean one kept-alive connection. */
  remotePort: number;
}

/** What the fake sends for one query, when a test takes over (`respond`). */
export interface DohReply {
  status?: number;
  body?: Uint8Array;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
}

export const NEGATIVE_TTL = 5;

export class FakeDohServer {
  readonly requests: DohRequest[] = [];
  /** Records by `name|type`, name lowercased without the trailing dot. */
  readonly records = new Map<string, Answer[]>();
  /** Overrides the table for a query; return undefined to answer from the table. */
  respond: (query: Packet) => DohReply | undefined = () => undefined;
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  private readonly server: Server<undefined>;

  constructor() {
    this.server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request, server) => this.handle(request, server.requestIP(request)?.port ?? -1) });
  }

  /** The base URL, as an agent's `--master` takes it. */
  get origin(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** The endpoint of `cluster`. */
  url(cluster: string): string {
    return `${this.origin}/c/${cluster}/dns-query`;
  }

  /** Adds records under their owner name and type. */
  add(...records: Answer[]): void {
    for (const record of records) {
      const key = `${record.name.toLowerCase()}|${record.type}`;
      this.records.set(key, [...(this.records.get(key) ?? []), record]);
    }
  }

  async stop(): Promise<void> {
    await this.server.stop(true);
  }

  private async handle(request: Request, remotePort: number): Promise<Response> {
    // Anything else (an agent trying its WebSocket here) is not a DoH query.
    if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const query = decode(new Uint8Array(await request.arrayBuffer()));
      this.requests.push({
        path: new URL(request.url).pathname,
        method: request.method,
        authorization: request.headers.get("authorization"),
        contentType: request.headers.get("content-type"),
        query,
        remotePort,
      });
      const reply = this.respond(query) ?? this.fromTable(query);
      const delay = reply.delayMs ?? this.delayMs;
      if (delay > 0) await Bun.sleep(delay);
      return new Response(reply.body, { status: reply.status ?? 200, headers: reply.headers ?? {} });
    } finally {
      this.inFlight -= 1;
    }
  }

  private fromTable(query: Packet): DohReply {
    const question = query.questions?.[0];
    const found = question === undefined ? undefined : this.records.get(`${question.name.toLowerCase()}|${question.type}`);
    const answer: Packet =
      found === undefined
        ? { type: "response", id: query.id, flags: AUTHORITATIVE_ANSWER | 3, questions: query.questions, authorities: [soa()] }
        : { type: "response", id: query.id, flags: AUTHORITATIVE_ANSWER, questions: query.questions, answers: found };
    const ttl = found === undefined ? NEGATIVE_TTL : Math.min(...found.map((record) => record.ttl ?? 0));
    return { body: encode(answer), headers: { "content-type": "application/dns-message", "cache-control": `max-age=${ttl}` } };
  }
}

/** The zone's SOA, whose MINIMUM is the negative TTL. */
export function soa(): Answer {
  return {
    type: "SOA",
    name: "mesos",
    ttl: 60,
    data: { mname: "ns.mesos", rname: "root.ns.mesos", serial: 1, refresh: 60, retry: 60, expire: 86_400, minimum: NEGATIVE_TTL },
  };
}

/** A DNS message answer for `query` with `records`, as the real endpoint would encode it. */
export function dohAnswer(query: Packet, records: Answer[], rcode = 0): Uint8Array {
  return encode({ type: "response", id: query.id, flags: AUTHORITATIVE_ANSWER | rcode, questions: query.questions, answers: records });
}
