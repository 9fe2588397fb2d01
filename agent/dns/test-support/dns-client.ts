import { RECURSION_DESIRED, decode, encode } from "@leichtgewicht/dns-packet";
import type { Packet, RecordType } from "@leichtgewicht/dns-packet";
import { FrameReader, lengthPrefixed } from "../tcp-framing.ts";

/** A minimal DNS client for tests: one query over UDP, or several over one TCP connection. */

/** A query packet for `name`/`type` with the given id. */
export function queryOf(name: string, type: RecordType, id: number, extra: Partial<Packet> = {}): Packet {
  return { type: "query", id, flags: RECURSION_DESIRED, questions: [{ name, type, class: "IN" }], ...extra };
}

/** Sends raw bytes over UDP to 127.0.0.1:`port` and resolves with the first datagram back (or undefined after `timeoutMs`). */
export async function exchangeUdp(port: number, message: Uint8Array, timeoutMs = 2_000, host = "127.0.0.1"): Promise<Uint8Array | undefined> {
  const { promise, resolve } = Promise.withResolvers<Uint8Array | undefined>();
  const socket = await Bun.udpSocket({
    hostname: host.includes(":") ? "::" : "0.0.0.0",
    binaryType: "uint8array",
    connect: { hostname: host, port },
    socket: { data: (_s, data) => resolve(data.slice()) },
  });
  const timer = setTimeout(() => resolve(undefined), timeoutMs);
  socket.send(message);
  const answer = await promise;
  clearTimeout(timer);
  socket.close();
  return answer;
}

/** Sends `query` over UDP and decodes the answer; fails the test when none comes. */
export async function queryUdp(port: number, query: Packet, host = "127.0.0.1"): Promise<Packet> {
  const answer = await exchangeUdp(port, encode(query), 2_000, host);
  if (answer === undefined) throw new Error(`no UDP answer from port ${port}`);
  return decode(answer);
}

/** Sends every query on one TCP connection at once and resolves with the answers in arrival order. */
export async function queryTcp(port: number, queries: Packet[], timeoutMs = 3_000): Promise<Packet[]> {
  const reader = new FrameReader();
  const answers: Packet[] = [];
  const { promise, resolve, reject } = Promise.withResolvers<Packet[]>();
  const timer = setTimeout(() => reject(new Error(`only ${answers.length} of ${queries.length} TCP answers`)), timeoutMs);
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data: (_s, chunk) => {
        for (const message of reader.push(chunk)) answers.push(decode(message));
        if (answers.length >= queries.length) resolve(answers);
      },
      close: () => reject(new Error(`connection closed after ${answers.length} answers`)),
    },
  });
  const frames = queries.map((query) => lengthPrefixed(encode(query)));
  const all = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
  let offset = 0;
  for (const frame of frames) {
    all.set(frame, offset);
    offset += frame.length;
  }
  socket.write(all);
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
    socket.end();
  }
}
