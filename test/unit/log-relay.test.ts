import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LogRelay, sseEvent } from "../../control/cluster/log-relay.ts";
import type { LogData } from "../../protocol/index.ts";

/** The little of a WebSocket the relay uses: what it sends, and whether it is open. */
class FakeSocket {
  readonly sent: Record<string, unknown>[] = [];
  readyState: number = WebSocket.OPEN;
  send(text: string): void {
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
  }
  get ws(): WebSocket {
    return this as unknown as WebSocket;
  }
  requestId(): string {
    return String(this.sent.find((f) => f.type === "logs")?.requestId);
  }
}

const frame = (requestId: string, fields: Partial<LogData> = {}): LogData => ({ type: "logData", requestId, data: "", offset: 0, ...fields });

async function text(body: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(body).text();
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("sseEvent", () => {
  it("puts each line of a chunk on a data line, so joining them gives the chunk back", () => {
    expect(sseEvent("a\nb\n", { id: 4 })).toBe("id: 4\ndata: a\ndata: b\ndata: \n\n");
    expect(sseEvent("x\r\ny", { event: "end" })).toBe("event: end\ndata: x\ndata: y\n\n");
  });
});

describe("LogRelay", () => {
  it("a one-shot request without an answer in time is a gateway timeout", async () => {
    const relay = new LogRelay({ answerTimeoutMs: 10_000 });
    const socket = new FakeSocket();
    const opened = relay.open(socket.ws, { taskId: "t", stream: "stdout", tail: 3 });
    expect(socket.sent[0]).toMatchObject({ type: "logs", taskId: "t", stream: "stdout", tail: 3 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await opened).toEqual({ ok: false, code: "gateway_timeout", message: "the agent did not answer within 10 s" });
    expect(relay.size).toBe(0);
  });

  it("a one-shot answer that stops short of eof breaks its body off at the timeout", async () => {
    const relay = new LogRelay({ answerTimeoutMs: 1000 });
    const socket = new FakeSocket();
    const opened = relay.open(socket.ws, { taskId: "t", stream: "stdout" });
    relay.data(socket.ws, frame(socket.requestId(), { data: "part" }));
    const result = await opened;
    if (!result.ok) throw new Error("expected a body");
    const broken = expect(text(result.body)).rejects.toThrow("did not finish");
    await vi.advanceTimersByTimeAsync(1000);
    await broken;
  });

  it("a socket closing before the answer is unavailable; frames from another socket are not taken", async () => {
    const relay = new LogRelay();
    const socket = new FakeSocket();
    const impostor = new FakeSocket();
    const opened = relay.open(socket.ws, { taskId: "t", stream: "stdout" });
    relay.data(impostor.ws, frame(socket.requestId(), { data: "forged" }));
    expect(impostor.sent).toEqual([{ type: "logsCancel", requestId: socket.requestId() }]);
    relay.socketClosed(socket.ws);
    expect(await opened).toEqual({ ok: false, code: "unavailable", message: "the agent disconnected before answering" });
  });

  it("a follow ends at its time limit with an end event, and the agent is told to stop", async () => {
    const relay = new LogRelay({ maxFollowMs: 60_000, keepAliveMs: 15_000 });
    const socket = new FakeSocket();
    const opened = relay.open(socket.ws, { taskId: "t", stream: "stdout", follow: true });
    relay.data(socket.ws, frame(socket.requestId(), { data: "hello\n", offset: 6 }));
    const result = await opened;
    if (!result.ok) throw new Error("expected a body");
    const reading = text(result.body);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await reading).toBe(
      'id: 6\ndata: hello\ndata: \n\n:\n\n:\n\n:\n\nevent: end\ndata: {"reason":"max_duration","message":"follows end after 1 minutes; reconnect to go on"}\n\n',
    );
    expect(socket.sent.at(-1)).toEqual({ type: "logsCancel", requestId: socket.requestId() });
    expect(relay.size).toBe(0);
  });

  it("a follow whose socket is no longer open ends at the next keep-alive", async () => {
    const relay = new LogRelay({ keepAliveMs: 1000 });
    const socket = new FakeSocket();
    const opened = relay.open(socket.ws, { taskId: "t", stream: "stdout", follow: true });
    relay.data(socket.ws, frame(socket.requestId()));
    const result = await opened;
    if (!result.ok) throw new Error("expected a body");
    const reading = text(result.body);
    socket.readyState = WebSocket.CLOSED;
    await vi.advanceTimersByTimeAsync(1000);
    expect(await reading).toContain('"reason":"agent_disconnected"');
  });

  it("a follow the client does not read is cut off instead of buffered, and the agent stops", async () => {
    const relay = new LogRelay();
    const socket = new FakeSocket();
    const opened = relay.open(socket.ws, { taskId: "t", stream: "stdout", follow: true });
    const requestId = socket.requestId();
    relay.data(socket.ws, frame(requestId));
    const result = await opened;
    if (!result.ok) throw new Error("expected a body");
    const chunk = "y".repeat(60_000);
    for (let i = 0; i < 100 && relay.size > 0; i++) relay.data(socket.ws, frame(requestId, { data: chunk, offset: i }));
    expect(relay.size).toBe(0);
    expect(socket.sent.at(-1)).toEqual({ type: "logsCancel", requestId });
    await expect(text(result.body)).rejects.toThrow("too slow");
  });

  it("refuses requests beyond its limit", async () => {
    const relay = new LogRelay({ maxRequests: 1 });
    const socket = new FakeSocket();
    void relay.open(socket.ws, { taskId: "t", stream: "stdout" });
    expect(await relay.open(socket.ws, { taskId: "t", stream: "stdout" })).toMatchObject({ ok: false, code: "rate_limited" });
  });
});
