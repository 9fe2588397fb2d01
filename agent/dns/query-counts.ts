import { RCODE } from "./messages.ts";

/** Rcode numbers to the names DNS tools print; anything else is named by its number. */
const RCODE_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(RCODE).map(([name, code]) => [Number(code), name]));

/** A query the forwarder answered (by rcode), or `dropped` when it sent nothing back (not a query at all, or a flood). */
export function queryResult(reply: Uint8Array | undefined): string {
  if (reply === undefined || reply.length < 4) return "dropped";
  const rcode = (reply[3] ?? 0) & 0x0f;
  return RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;
}

/** One count per (transport, result): the forwarder's `dcx_agent_dns_queries_total`. */
export class DnsQueryCounts {
  private readonly counts = new Map<string, { transport: string; result: string; count: number }>();

  /** Passes the reply through, counting it once it is known. */
  async track(transport: "udp" | "tcp", reply: Promise<Uint8Array | undefined>): Promise<Uint8Array | undefined> {
    const bytes = await reply;
    const result = queryResult(bytes);
    const key = `${transport} ${result}`;
    const entry = this.counts.get(key) ?? { transport, result, count: 0 };
    entry.count++;
    this.counts.set(key, entry);
    return bytes;
  }

  entries(): { transport: string; result: string; count: number }[] {
    return [...this.counts.values()].map((e) => ({ ...e }));
  }
}
