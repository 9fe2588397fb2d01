import type { Socket, TCPSocketListener } from "bun";
import type { VipBackend } from "../../protocol/vips.ts";
import { errorMessage, type Logger } from "../log.ts";
import { Splice, type Side } from "./splice.ts";

/**
 * One VIP address and port: a TCP listener whose connections are spread over the VIP's
 * backends by least connections, ties broken round robin (so sequential short connections
 * visit every backend in turn, and long ones do not pile up on one). A draining backend gets
 * no new connection while its open ones carry on; a backend that refuses is skipped and the
 * next one tried, so a task that just died costs a client nothing. Bun's own sockets, not
 * node:net: they cost the balancer about half as much CPU per connection.
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
  /** The same backends as an array, for the per-connection pick. */
  private list: Backend[] = [];
  private next = 0;
  private server: TCPSocketListener<Side> | undefined;
  private readonly open = new Set<Splice>();
  readonly counters: VipCounters = { accepted: 0, refused: 0, active: 0 };

  constructor(
    readonly name: string,
    readonly ip: string,
    readonly port: number,
    private readonly log: Logger,
  ) {}

  get backendCount(): number {
    return this.backends.size;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Starts listening; throws when the address cannot be bound. SO_REUSEPORT lets every agent on one machine serve the same VIP. */
  listen(): void {
    const options = {
      hostname: this.ip,
      port: this.port,
      reusePort: true,
      allowHalfOpen: true,
      data: { splice: undefined } as Side,
      socket: Splice.handlers((client) => this.accept(client)),
    };
    this.server = Bun.listen<Side>(options);
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
    this.list = [...next.values()];
  }

  /** Stops accepting; with `dropConnections`, ends the open ones too (agent shutdown). */
  close(dropConnections = false): void {
    this.server?.stop(dropConnections);
    this.server = undefined;
    if (dropConnections) for (const splice of this.open) splice.destroy();
  }

  /**
   * The backend for a new connection: the least loaded one taking connections, scanning from a
   * rotating start so ties go round robin; one in `tried` is skipped. One pass, no allocation.
   */
  private pick(tried?: ReadonlySet<Backend>): Backend | undefined {
    const list = this.list;
    const start = this.next++;
    let best: Backend | undefined;
    for (let i = 0; i < list.length; i++) {
      const b = list[(start + i) % list.length] as Backend;
      if (b.draining || tried?.has(b)) continue;
      if (best === undefined || b.active < best.active) best = b;
    }
    return best;
  }

  private accept(client: Socket<Side>): void {
    this.counters.accepted++;
    this.connect(new Splice(client), this.pick(), undefined);
  }

  /** Connects the splice to `backend`; on failure tries the next one, and refuses the client when none is left. */
  private connect(splice: Splice, backend: Backend | undefined, tried: Set<Backend> | undefined): void {
    if (backend === undefined || splice.closed) {
      this.counters.refused++;
      splice.destroy();
      return;
    }
    const attempt = (tried?.size ?? 0) + 1;
    let settled = false;
    const failed = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.log.warn("vip_backend_failed", { vip: this.name, backend: keyOf(backend), error: errorMessage(error) });
      const skip = tried ?? new Set<Backend>();
      skip.add(backend);
      this.connect(splice, this.pick(skip), skip);
    };
    const timer = setTimeout(() => failed(new Error(`no answer within ${BACKEND_CONNECT_TIMEOUT_MS} ms`)), BACKEND_CONNECT_TIMEOUT_MS);
    // Handlers are the splice's, shared by its attempts: each checks the socket is its own attempt's.
    splice.onConnectFailed = (upstream, error) => {
      if (upstream.data.attempt === attempt) failed(error);
    };
    splice.onConnected = (upstream) => {
      // A connection that opens after its deadline (an earlier attempt's) is closed as it opens.
      if (settled || upstream.data.attempt !== attempt) return upstream.terminate();
      settled = true;
      clearTimeout(timer);
      this.track(splice, upstream, backend);
    };
    Bun.connect<Side>({ hostname: backend.host, port: backend.port, allowHalfOpen: true, data: { splice, attempt }, socket: Splice.UPSTREAM_HANDLERS }).catch(
      () => {},
    );
  }

  private track(splice: Splice, upstream: Socket<Side>, backend: Backend): void {
    backend.active++;
    this.counters.active++;
    this.open.add(splice);
    splice.onClosed = () => {
      backend.active--;
      this.counters.active--;
      this.open.delete(splice);
    };
    splice.attach(upstream);
  }
}
