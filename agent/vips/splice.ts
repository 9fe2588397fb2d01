import type { Socket, SocketHandler } from "bun";

/**
 * Two TCP sockets joined both ways, as a layer-4 proxy must: bytes copied as they come, with
 * backpressure (what a socket will not take yet is held, and its source paused, until it
 * drains), and half-closes passed on (a FIN from one side becomes a FIN to the other once what
 * was in flight has been delivered). Bun's socket handlers are shared by all connections; each
 * socket's `data` says which splice it belongs to and on which side.
 */

/** What each socket carries: its splice, once there is one. */
export interface Side {
  splice: Splice | undefined;
  /** For a backend connection: which of its splice's attempts it is (a late one is turned away). */
  attempt?: number;
}

/** A copy of a chunk's tail: Bun may reuse the buffer a `data` callback got once it returns. */
const copyOf = (bytes: Uint8Array) => new Uint8Array(bytes);

/** What a client may send before its backend connection is up; beyond it, the client is paused. */
const EARLY_BYTES = 256 * 1024;

export class Splice {
  private upstream: Socket<Side> | undefined;
  /** Bytes read from one side that the other has not taken yet, per destination. */
  private readonly queued = new Map<Socket<Side>, Uint8Array[]>();
  /** Sides whose FIN has come, and sides that are gone. */
  private readonly ended = new Set<Socket<Side>>();
  private readonly gone = new Set<Socket<Side>>();
  private finished = false;
  /** What the client sent before the backend answered, and whether that paused it. */
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  private pausedEarly = false;
  /** Called once, when both sides are gone (only for a splice that got an upstream). */
  onClosed: () => void = () => {};
  /** Called when a backend connection this splice started opens or fails (set by the listener). */
  onConnected: (upstream: Socket<Side>) => void = (upstream) => upstream.terminate();
  onConnectFailed: (upstream: Socket<Side>, error: Error) => void = () => {};

  constructor(private readonly client: Socket<Side>) {
    client.data = { splice: this };
  }

  /** Whether the client has gone (no point connecting to a backend for it any more). */
  get closed(): boolean {
    return this.gone.has(this.client);
  }

  /**
   * The handlers every socket of a VIP uses: `open` for the listener's accepted sockets, and
   * UPSTREAM_HANDLERS for backend connections. Callbacks, not promises: no allocation per event.
   */
  static handlers(open: (socket: Socket<Side>) => void): SocketHandler<Side> {
    return {
      open,
      data: (socket, chunk) => socket.data.splice?.data(socket, chunk),
      drain: (socket) => socket.data.splice?.drain(socket),
      end: (socket) => socket.data.splice?.end(socket),
      close: (socket) => socket.data.splice?.close(socket),
      error: (socket) => socket.data.splice?.destroy(),
      // Also keeps Bun.connect's rejected promise off the unhandled-rejection path.
      connectError: (socket, error) => socket.data.splice?.onConnectFailed(socket, error),
    };
  }

  static readonly UPSTREAM_HANDLERS = Splice.handlers((socket) => socket.data.splice?.onConnected(socket));

  /**
   * Joins the backend's socket: what the client sent meanwhile goes first, then its FIN if it
   * sent one. The client is not paused while the backend connects (that costs two epoll_ctl
   * calls per connection); only one that sends more than EARLY_BYTES first is.
   */
  attach(upstream: Socket<Side>): void {
    if (this.closed) {
      upstream.terminate();
      this.onClosed();
      return;
    }
    this.upstream = upstream;
    const early = this.early;
    this.early = [];
    for (const chunk of early) this.data(this.client, chunk);
    const blocked = (this.queued.get(upstream)?.length ?? 0) > 0;
    if (blocked) return;
    if (this.pausedEarly) this.client.resume();
    if (this.ended.has(this.client)) upstream.shutdown();
  }

  /** Closes both sides at once (an error, a refused client, agent shutdown). */
  destroy(): void {
    this.client.terminate();
    this.upstream?.terminate();
    this.gone.add(this.client);
    if (this.upstream) this.gone.add(this.upstream);
    this.finish();
  }

  private isSide(socket: Socket<Side>): boolean {
    return socket === this.client || socket === this.upstream;
  }

  private peerOf(socket: Socket<Side>): Socket<Side> | undefined {
    if (socket === this.client) return this.upstream;
    return socket === this.upstream ? this.client : undefined;
  }

  private data(from: Socket<Side>, chunk: Uint8Array): void {
    if (from === this.client && this.upstream === undefined) return this.hold(chunk);
    const to = this.peerOf(from);
    if (to === undefined || this.gone.has(to)) return;
    const queue = this.queued.get(to);
    if (queue !== undefined && queue.length > 0) {
      queue.push(copyOf(chunk));
      return;
    }
    const written = to.write(chunk);
    if (written < chunk.byteLength) {
      this.queued.set(to, [copyOf(chunk.subarray(Math.max(0, written)))]);
      from.pause();
    }
  }

  /** Keeps what the client sends before the backend has answered. */
  private hold(chunk: Uint8Array): void {
    this.early.push(copyOf(chunk));
    this.earlyBytes += chunk.byteLength;
    if (this.earlyBytes > EARLY_BYTES && !this.pausedEarly) {
      this.pausedEarly = true;
      this.client.pause();
    }
  }

  /** `to` can take more: what waits for it goes out, then its source reads again (or its FIN follows). */
  private drain(to: Socket<Side>): void {
    const queue = this.queued.get(to) ?? [];
    while (queue.length > 0) {
      const head = queue[0] as Uint8Array;
      const written = to.write(head);
      if (written < head.byteLength) {
        queue[0] = head.subarray(Math.max(0, written));
        return;
      }
      queue.shift();
    }
    const from = this.peerOf(to);
    if (from === undefined) return;
    if (this.ended.has(from) || this.gone.has(from)) to.shutdown();
    else from.resume();
  }

  /** A FIN from `from`: passed on once what it sent before has been delivered. */
  private end(from: Socket<Side>): void {
    if (!this.isSide(from)) return;
    this.ended.add(from);
    const to = this.peerOf(from);
    if (to !== undefined && (this.queued.get(to)?.length ?? 0) === 0) to.shutdown();
  }

  private close(socket: Socket<Side>): void {
    // A backend connection that lost the race to its deadline belongs to no side.
    if (!this.isSide(socket)) return;
    this.gone.add(socket);
    const peer = this.peerOf(socket);
    if (peer !== undefined && !this.gone.has(peer)) {
      // What the closed side sent still goes out first; `drain` then shuts the peer's write side.
      if ((this.queued.get(peer)?.length ?? 0) === 0) peer.end();
    }
    if (peer === undefined || this.gone.has(peer)) this.finish();
  }

  private finish(): void {
    if (this.finished || this.upstream === undefined) return;
    this.finished = true;
    this.onClosed();
  }
}
