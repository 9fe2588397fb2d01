import { describe, expect, it } from "vitest";
import {
  decodeProxyData,
  MAX_PROXY_WS_MESSAGE_BYTES,
  PROXY_CHUNK_BYTES,
  PROXY_WINDOW_BYTES,
  type ProxyData,
  WsFrameSender,
  WsMessageAssembler,
} from "../../protocol/index.ts";

/** The WebSocket relay's halves shared by the agent and the Cluster object (protocol/proxy-websocket.ts). */
describe("proxied WebSocket messages", () => {
  const sent = () => {
    const frames: ProxyData[] = [];
    const sender = new WsFrameSender(7, (frame) => frames.push(decodeProxyData(frame) as ProxyData));
    return { frames, sender };
  };

  it("a message larger than a chunk goes out in chunks and comes back whole, text as text", () => {
    const { frames, sender } = sent();
    const text = "é".repeat(PROXY_CHUNK_BYTES);
    expect(sender.message(text)).toBe(true);
    expect(frames.map((f) => [f.sid, f.fin])).toEqual([
      [7, false],
      [7, true],
    ]);
    const assembler = new WsMessageAssembler();
    expect(assembler.add(frames[0] as ProxyData)).toBeUndefined();
    expect(assembler.add(frames[1] as ProxyData)).toEqual({ message: text, bytes: 2 * PROXY_CHUNK_BYTES });
    sender.message(new Uint8Array([1, 2, 3]).buffer);
    expect(assembler.add(frames[2] as ProxyData)).toEqual({ message: new Uint8Array([1, 2, 3]), bytes: 3 });
  });

  it("sends only within the receiver's credit, the rest in order as credit comes, and says when more than a window waits", () => {
    const { frames, sender } = sent();
    const chunks = PROXY_WINDOW_BYTES / PROXY_CHUNK_BYTES;
    expect(sender.message(new Uint8Array(PROXY_WINDOW_BYTES + PROXY_CHUNK_BYTES).buffer)).toBe(true);
    expect(frames).toHaveLength(chunks);
    sender.credit(PROXY_CHUNK_BYTES - 1);
    expect(frames).toHaveLength(chunks);
    sender.credit(1);
    expect(frames).toHaveLength(chunks + 1);
    expect(frames.at(-1)?.fin).toBe(true);
    expect(sender.message(new Uint8Array(PROXY_WINDOW_BYTES + 1).buffer)).toBe(false);
  });

  it("a message over MAX_PROXY_WS_MESSAGE_BYTES is too big", () => {
    const assembler = new WsMessageAssembler();
    const frame = { kind: 3, sid: 1, fin: false, payload: new Uint8Array(PROXY_CHUNK_BYTES) } as ProxyData;
    let result: ReturnType<WsMessageAssembler["add"]>;
    let frames = 0;
    do {
      result = assembler.add(frame);
      frames++;
    } while (result === undefined);
    expect(result).toBe("too big");
    expect(frames).toBe(MAX_PROXY_WS_MESSAGE_BYTES / PROXY_CHUNK_BYTES + 1);
  });
});
