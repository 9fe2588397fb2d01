import { type Server, type Socket, createConnection, createServer } from "node:net";

/**
 * A TCP proxy on loopback between agents and the control plane, to break their connections on
 * purpose: `drop` resets every connection (new ones are accepted and reset too), `blackhole`
 * keeps sockets open but forwards nothing (a partition the peers only notice by silence),
 * `delay` holds every chunk for a while in each direction, `heal` forwards normally again.
 * Connections that lived through a black hole stay silent after healing, as a real partition
 * leaves half-dead sockets behind: the agent's heartbeat timeout is what ends them.
 */
export type ProxyMode = { kind: "pass" } | { kind: "drop" } | { kind: "blackhole" } | { kind: "delay"; ms: number };

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Set when this pair lived through a black hole: it never forwards again. */
  dead: boolean;
}

export class FaultProxy {
  private mode: ProxyMode = { kind: "pass" };
  private readonly pairs = new Set<Pair>();
  private readonly releaseAt = new WeakMap<Socket, number>();
  private server: Server | undefined;
  /** Connections accepted so far (agents' reconnects show here). */
  accepted = 0;

  private readonly upstreamPort: number;

  constructor(upstreamPort: number) {
    this.upstreamPort = upstreamPort;
  }

  /** Listens on a free loopback port; resolves with it. */
  async start(): Promise<number> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("the fault proxy has no port");
    return address.port;
  }

  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind === "drop") for (const pair of this.pairs) this.reset(pair);
    if (mode.kind === "blackhole") for (const pair of this.pairs) pair.dead = true;
  }

  heal(): void {
    this.set({ kind: "pass" });
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) this.reset(pair);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    if (this.mode.kind === "drop") return void client.resetAndDestroy();
    const upstream = createConnection({ host: "127.0.0.1", port: this.upstreamPort });
    const pair: Pair = { client, upstream, dead: this.mode.kind === "blackhole" };
    this.pairs.add(pair);
    client.on("data", (chunk) => this.forward(pair, upstream, chunk));
    upstream.on("data", (chunk) => this.forward(pair, client, chunk));
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
  }

  private forward(pair: Pair, to: Socket, chunk: Buffer): void {
    if (pair.dead || this.mode.kind === "blackhole") {
      pair.dead = true;
      return;
    }
    // Chunks still held by a delay keep their order: nothing overtakes them once it is lifted.
    const now = Date.now();
    const at = Math.max(now + (this.mode.kind === "delay" ? this.mode.ms : 0), this.releaseAt.get(to) ?? 0);
    if (at <= now) return void to.write(chunk);
    this.releaseAt.set(to, at);
    setTimeout(() => !to.destroyed && to.write(chunk), at - now);
  }

  private reset(pair: Pair): void {
    this.pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.destroy();
  }
}
