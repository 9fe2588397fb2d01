import type { HostPort } from "./listen-address.ts";

/**
 * The forwarder's UDP side: one socket, one answer datagram per query datagram. Queries are
 * answered concurrently, up to a cap; beyond it new datagrams are dropped (the client retries),
 * which bounds the memory a flood can take.
 */

export const DEFAULT_UDP_MAX_PENDING = 2_048;

/** Turns a query into its answer, or undefined to send nothing. Must not throw. */
export type Handler = (message: Uint8Array) => Promise<Uint8Array | undefined>;

/** A bound UDP socket; `close` stops it. */
export interface UdpServer {
  port: number;
  close(): void;
}

/** Binds `address` (port 0: any free port) and answers every datagram through `handle`. */
export async function startUdpServer(address: HostPort, handle: Handler, maxPending = DEFAULT_UDP_MAX_PENDING): Promise<UdpServer> {
  let pending = 0;
  const socket = await Bun.udpSocket({
    hostname: address.host,
    port: address.port,
    binaryType: "uint8array",
    socket: {
      data: (sock, data, port, host) => {
        if (pending >= maxPending) return;
        pending += 1;
        // The datagram's buffer may be reused once this callback returns.
        void handle(data.slice())
          .then((answer) => {
            if (answer !== undefined && !sock.closed) sock.send(answer, port, host);
          })
          .finally(() => (pending -= 1));
      },
    },
  });
  return { port: socket.port, close: () => socket.close() };
}
