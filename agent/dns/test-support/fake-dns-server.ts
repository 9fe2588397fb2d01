import type { Socket as TcpSocket, TCPSocketListener } from "bun";
import type { udp } from "bun";
import { TRUNCATED_RESPONSE, decode, encode } from "@leichtgewicht/dns-packet";
import type { Answer, Packet } from "@leichtgewicht/dns-packet";
import { FrameReader, lengthPrefixed } from "../tcp-framing.ts";

/**
 * A plain DNS server on UDP and TCP (same port) standing in for the machine's resolver: answers
 * A queries from a table, NXDOMAIN otherwise, and over UDP sets TC for names marked `big` so
 * clients must retry over TCP. `silent` makes it swallow every query (a dead resolver).
 */
export class FakeDnsServer {
  readonly records = new Map<string, Answer[]>();
  readonly big = new Set<string>();
  readonly queries: { transport: "udp" | "tcp"; query: Packet }[] = [];
  silent = false;

  private constructor(
    private readonly udpSocket: udp.Socket<"uint8array">,
    private readonly tcp: TCPSocketListener<FrameReader> | undefined,
  ) {}

  /** Binds a free port on 127.0.0.1 for UDP and, unless `udpOnly`, the same port for TCP. */
  static async start(options: { udpOnly?: boolean } = {}): Promise<FakeDnsServer> {
    for (let attempt = 1; ; attempt++) {
      let server: FakeDnsServer | undefined;
      const udpSocket = await Bun.udpSocket({
        hostname: "127.0.0.1",
        port: 0,
        binaryType: "uint8array",
        socket: { data: (socket, data, port, address) => server?.onUdp(socket, data, port, address) },
      });
      try {
        const tcp =
          options.udpOnly === true
            ? undefined
            : Bun.listen<FrameReader>({
                hostname: "127.0.0.1",
                port: udpSocket.port,
                data: new FrameReader(),
                socket: {
                  binaryType: "uint8array",
                  open: (socket) => void (socket.data = new FrameReader()),
                  data: (socket, chunk) => server?.onTcp(socket, chunk),
                },
              });
        server = new FakeDnsServer(udpSocket, tcp);
        return server;
      } catch (error) {
        // The UDP port's TCP twin was taken (e.g. by an outgoing connection); try another.
        udpSocket.close();
        if (attempt >= 5) throw error;
      }
    }
  }

  get port(): number {
    return this.udpSocket.port;
  }

  /** A resolv.conf line for this server (the forwarder's `host:port` extension). */
  get nameserverLine(): string {
    return `nameserver 127.0.0.1:${this.port}`;
  }

  stop(): void {
    this.udpSocket.close();
    this.tcp?.stop(true);
  }

  private answer(query: Packet, transport: "udp" | "tcp"): Uint8Array {
    const question = query.questions?.[0];
    const name = question?.name.toLowerCase() ?? "";
    const found = this.records.get(name);
    const truncate = transport === "udp" && this.big.has(name);
    const flags = (found === undefined ? 3 : 0) | (truncate ? TRUNCATED_RESPONSE : 0) | 0x0180;
    return encode({ type: "response", id: query.id, flags, questions: query.questions, answers: truncate ? [] : (found ?? []) });
  }

  private onUdp(socket: udp.Socket<"uint8array">, data: Uint8Array, port: number, address: string): void {
    const query = tryDecode(data);
    if (query === undefined || this.silent) return;
    this.queries.push({ transport: "udp", query });
    socket.send(this.answer(query, "udp"), port, address);
  }

  private onTcp(socket: TcpSocket<FrameReader>, chunk: Uint8Array): void {
    for (const message of socket.data.push(chunk)) {
      const query = tryDecode(message);
      if (query === undefined || this.silent) continue;
      this.queries.push({ transport: "tcp", query });
      socket.write(lengthPrefixed(this.answer(query, "tcp")));
    }
  }
}

function tryDecode(bytes: Uint8Array): Packet | undefined {
  try {
    return decode(bytes);
  } catch {
    return undefined;
  }
}
