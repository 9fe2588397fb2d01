import net from "node:net";
import type { VipBackend } from "../../protocol/vips.ts";
import { errorMessage, type Logger } from "../log.ts";

/**
 * One VIP address and port: a TCP listener whose connections are spread over the VIP's
 * backends by least connections, ties broken round robin (so sequential short connections
 * visit every backend in turn, and long ones do not pile up on one). A draining backend gets
 * no new connection while its open ones carry on; a backend that refuses is skipped and the
 * next one tried, so a task that just died costs a client nothing.
 */

/** How long a backend may take to accept before the next one is tried. */
export const BACKEND_CONNECT_TIMEOUT_MS = 5_000;

/** A backend with its live connection count, kept across table updates. */
interface Backend extends VipBackend {
  active: number;
}

const keyOf = (b: { host: string; port: number }) => `${b.host}:${b.port}`;

export interface VipCounters {
  accepted: number;
  /** Connections closed at once because no backend took them. */
  refused: number;
  active: number;
}

export class VipListener {
  private backends = new Map<string, Backend>();
  private next = 0;
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  readonly counters: VipCounters = { accepted: 0, refused: 0, active: 0 };

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly port: number,
    private readonly log: Logger,
  ) {
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.accept(client));
  }

  get backendCount(): number {
    return this.backends.size;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** Starts listening. SO_REUSEPORT lets every agent on one machine serve the same VIP. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      this.server.once("error", failed);
      this.server.listen({ host: this.ip, port: this.port, reusePort: true, backlog: 1024 }, () => {
        this.server.off("error", failed);
        this.server.on("error", (error) => this.log.warn("vip_listener_error", { vip: this.name, error: errorMessage(error) }));
        resolve();
      });
    });
  }

  /** Replaces the backend list; open connections to backends left out carry on until they end. */
  setBackends(list: readonly VipBackend[]): void {
    const next = new Map<string, Backend>();
    for (const b of list) {
      // The same object stays, so connections opened before the update count down where they counted up.
      const kept = this.backends.get(keyOf(b));
      if (kept) kept.draining = b.draining;
      next.set(keyOf(b), kept ?? { ...b, active: 0 });
    }
    this.backends = next;
  }

  /** Stops accepting; with `dropConnections`, ends the open ones too (agent shutdown). */
  close(dropConnections = false): void {
    this.server.close();
    if (dropConnections) for (const socket of this.open) socket.destroy();
  }

  /** The backends taking new connections, least loaded first, ties in round-robin order. */
  private candidates(): Backend[] {
    const live = [...this.backends.values()].filter((b) => !b.draining);
    if (live.length === 0) return [];
    const start = this.next++ % live.length;
    const rotated = [...live.slice(start), ...live.slice(0, start)];
    return rotated.sort((a, b) => a.active - b.active);
  }

  private accept(client: net.Socket): void {
    this.counters.accepted++;
    client.on("error", () => client.destroy());
    this.tryBackends(client, this.candidates());
  }

  /** Connects to the first backend that answers; the client is refused when none does. */
  private tryBackends(client: net.Socket, candidates: Backend[]): void {
    const backend = candidates.shift();
    if (backend === undefined || client.destroyed) {
      this.counters.refused++;
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
    upstream.setTimeout(BACKEND_CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error("connect timeout")));
    const retry = (error: Error) => {
      this.log.warn("vip_backend_failed", { vip: this.name, backend: keyOf(backend), error: errorMessage(error) });
      this.tryBackends(client, candidates);
    };
    upstream.once("error", retry);
    upstream.once("connect", () => {
      upstream.off("error", retry);
      upstream.setTimeout(0);
      this.splice(client, upstream, backend);
    });
  }

  /** Joins the two sockets both ways, half-closes included, and counts the connection until both are gone. */
  private splice(client: net.Socket, upstream: net.Socket, backend: Backend): void {
    backend.active++;
    this.counters.active++;
    this.open.add(client);
    client.setNoDelay(true);
    let closed = 0;
    const done = () => {
      if (++closed < 2) return;
      backend.active--;
      this.counters.active--;
      this.open.delete(client);
    };
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", fail);
    client.on("error", fail);
    client.once("close", () => (upstream.destroy(), done()));
    upstream.once("close", () => (client.destroy(), done()));
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }
}
