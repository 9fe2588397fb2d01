import type { Socket, TCPSocketListener } from "bun";
import type { HostPort } from "./listen-address.ts";
import { FrameReader, lengthPrefixed } from "./tcp-framing.ts";
import type { Handler } from "./udp-server.ts";

/**
 * The forwarder's TCP side (RFC 7766): length-prefixed messages, several per connection,
 * answered concurrently and written back as each completes (clients match them by id). A
 * connection idle for the idle timeout (nothing received, no answer pending) is closed; so is
 * one that floods more queries than it waits for, and connections beyond a cap are refused.
 * The idle timer is our own: Bun's socket timeout fires only in steps of a few seconds.
 */

export const DEFAULT_TCP_IDLE_MS = 10_000;
const MAX_CONNECTIONS = 256;
const MAX_PENDING_PER_CONNECTION = 64;

interface Connection {
  reader: FrameReader;
  /** Answers not yet taken by the socket (backpressure), written on `drain`. */
  unsent: Uint8Array[];
  pending: number;
  lastActiveMs: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

/** A bound TCP listener; `close` stops it and drops its connections. */
export interface TcpServer {
  port: number;
  close(): void;
}

/** Listens on `address` and answers each framed message through `handle`. */
export function startTcpServer(address: HostPort, handle: Handler, idleMs = DEFAULT_TCP_IDLE_MS): TcpServer {
  let connections = 0;
  const listener: TCPSocketListener<Connection> = Bun.listen<Connection>({
    hostname: address.host,
    port: address.port,
    exclusive: true,
    data: newConnection(),
    socket: {
      binaryType: "uint8array",
      open: (socket) => {
        connections += 1;
        socket.data = newConnection();
        if (connections > MAX_CONNECTIONS) socket.end();
        else watchIdle(socket, idleMs);
      },
      data: (socket, chunk) => {
        socket.data.lastActiveMs = Date.now();
        for (const message of socket.data.reader.push(chunk)) receive(socket, message, handle);
      },
      drain: (socket) => flush(socket),
      close: (socket) => {
        connections -= 1;
        clearTimeout(socket.data.idleTimer);
      },
      error: (socket) => void socket.end(),
    },
  });
  return { port: listener.port, close: () => listener.stop(true) };
}

function newConnection(): Connection {
  return { reader: new FrameReader(), unsent: [], pending: 0, lastActiveMs: Date.now() };
}

/** Closes the connection once it has been idle for `idleMs`; checks again when it was not. */
function watchIdle(socket: Socket<Connection>, idleMs: number): void {
  const connection = socket.data;
  const idleFor = Date.now() - connection.lastActiveMs;
  if (idleFor >= idleMs && connection.pending === 0 && connection.unsent.length === 0) {
    socket.end();
    return;
  }
  connection.idleTimer = setTimeout(() => watchIdle(socket, idleMs), Math.max(idleMs - idleFor, 50));
}

function receive(socket: Socket<Connection>, message: Uint8Array, handle: Handler): void {
  const connection = socket.data;
  if (connection.pending >= MAX_PENDING_PER_CONNECTION) {
    socket.end();
    return;
  }
  connection.pending += 1;
  void handle(message)
    .then((answer) => {
      if (answer === undefined) return;
      connection.unsent.push(lengthPrefixed(answer));
      flush(socket);
    })
    .finally(() => {
      connection.pending -= 1;
      connection.lastActiveMs = Date.now();
    });
}

/** Writes queued answers until the socket pushes back; `drain` calls this again. */
function flush(socket: Socket<Connection>): void {
  const unsent = socket.data.unsent;
  while (unsent.length > 0) {
    const next = unsent[0];
    if (next === undefined) break;
    const written = socket.write(next);
    if (written < 0) {
      unsent.length = 0;
      return;
    }
    if (written < next.length) {
      unsent[0] = next.subarray(written);
      return;
    }
    unsent.shift();
  }
}
