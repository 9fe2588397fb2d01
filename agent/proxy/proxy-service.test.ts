import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:net";
import { decodeProxyData, encodeProxyData, PROXY_CHUNK_BYTES, PROXY_WINDOW_BYTES, ProxyDataKind } from "../../protocol/index.ts";
import type { AgentMessage, ProxyData, ProxyOpen } from "../../protocol/index.ts";
import { collectLog } from "../test-support/log-collector.ts";
import { ProxyService } from "./proxy-service.ts";

const MiB = 1024 * 1024;

/** A channel that records what the service sends the master. */
function recorder() {
  const frames: AgentMessage[] = [];
  const data: ProxyData[] = [];
  return {
    frames,
    data,
    channel: { send: (m: AgentMessage) => frames.push(m), sendBinary: (f: Uint8Array) => data.push(decodeProxyData(f.slice()) as ProxyData) },
    /** A stream's answer bytes so far: what came with the head (a first read small enough rides there), then the data frames. */
    bytes: (sid: number) => {
      const head = frames.find((f) => f.type === "proxyHead" && f.sid === sid) as { body?: string } | undefined;
      return Buffer.from(head?.body ?? "", "base64").byteLength + data.filter((d) => d.sid === sid).reduce((n, d) => n + d.payload.byteLength, 0);
    },
    /** A stream's whole answer body: what came with the head, then the data frames. */
    text: (sid: number) => {
      const head = frames.find((f) => f.type === "proxyHead" && f.sid === sid) as { body?: string } | undefined;
      const parts = [Buffer.from(head?.body ?? "", "base64"), ...data.filter((d) => d.sid === sid).map((d) => Buffer.from(d.payload))];
      return Buffer.concat(parts).toString();
    },
    of: <T extends AgentMessage["type"]>(type: T) => frames.filter((f): f is Extract<AgentMessage, { type: T }> => f.type === type),
  };
}

async function until(what: string, ready: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

const open = (sid: number, port: number, extra: Partial<ProxyOpen> = {}): ProxyOpen => ({
  type: "proxyOpen",
  sid,
  taskId: "web.1",
  port,
  scheme: "http",
  method: "GET",
  path: "/",
  headers: [["host", "dcx.example"]],
  body: false,
  websocket: false,
  ...extra,
});

describe("the agent's end of the service proxy", () => {
  let server: ReturnType<typeof Bun.serve>;
  let garbage: Server;
  let garbagePort = 0;
  const ports = new Map<string, number[]>();
  const service = () => new ProxyService({ servicePorts: (taskId) => ports.get(taskId), log: collectLog().log });

  beforeAll(async () => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        if (url.pathname === "/big") return new Response(new Uint8Array(4 * MiB).fill(3));
        if (url.pathname === "/upload") {
          const hash = createHash("sha256");
          let bytes = 0;
          for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
            bytes += chunk.byteLength;
            hash.update(chunk);
          }
          return Response.json({ bytes, sha256: hash.digest("hex") });
        }
        return new Response(`hello ${req.headers.get("host")} ${url.pathname}${url.search}`, { headers: { "set-cookie": "a=1" } });
      },
    });
    garbage = createServer((socket) => socket.end("NOT HTTP AT ALL\r\n\r\n"));
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve));
    garbagePort = (garbage.address() as { port: number }).port;
    ports.set("web.1", [Number(server.port)]);
    ports.set("junk.1", [garbagePort]);
  });
  afterAll(() => {
    void server.stop(true);
    garbage.close();
  });

  it("refuses a port that is not a port of a task it runs, and a task it does not run: never an open proxy", async () => {
    const proxy = service();
    const r = recorder();
    proxy.connected(r.channel);
    proxy.handle(open(1, 22));
    proxy.handle(open(2, Number(server.port), { taskId: "someone-else.1" }));
    expect(r.of("proxyReset")).toEqual([
      { type: "proxyReset", sid: 1, code: "refused", message: expect.stringContaining("port 22 is not a port of task 'web.1'") },
      { type: "proxyReset", sid: 2, code: "refused", message: expect.stringContaining("is not running on this agent") },
    ]);
    expect(proxy.size).toBe(0);
  });

  it("relays a request to the task's port on loopback and its answer back: head, body, end", async () => {
    const proxy = service();
    const r = recorder();
    proxy.connected(r.channel);
    proxy.handle(open(3, Number(server.port), { path: "/x?y=1" }));
    await until("the end", () => r.of("proxyEnd").length === 1 || r.of("proxyHead")[0]?.end === true);
    const head = r.of("proxyHead")[0];
    expect(head?.status).toBe(200);
    expect(head?.headers).toContainEqual(["set-cookie", "a=1"]);
    expect(r.text(3)).toBe("hello dcx.example /x?y=1");
    // A small answer the task sent at once is one frame: the head carries the body and the end.
    expect(head?.end).toBe(true);
    expect(r.data).toEqual([]);
    expect(proxy.size).toBe(0);
  });

  it("sends an answer only within the master's credit: a window, then as much as is granted", async () => {
    const proxy = service();
    const r = recorder();
    proxy.connected(r.channel);
    proxy.handle(open(4, Number(server.port), { path: "/big" }));
    // A window, less at most one chunk that did not fit in what was left of it.
    await until("a window", () => r.bytes(4) > PROXY_WINDOW_BYTES - PROXY_CHUNK_BYTES);
    await Bun.sleep(100);
    const first = r.bytes(4);
    expect(first).toBeLessThanOrEqual(PROXY_WINDOW_BYTES);
    expect(r.data.every((d) => d.payload.byteLength <= PROXY_CHUNK_BYTES)).toBe(true);
    proxy.handle({ type: "proxyCredit", sid: 4, bytes: PROXY_WINDOW_BYTES });
    await until("a second window", () => r.bytes(4) > 2 * PROXY_WINDOW_BYTES - PROXY_CHUNK_BYTES);
    await Bun.sleep(50);
    expect(r.bytes(4)).toBeLessThanOrEqual(2 * PROXY_WINDOW_BYTES);
    proxy.handle({ type: "proxyCredit", sid: 4, bytes: 2 * PROXY_WINDOW_BYTES });
    await until("the end", () => r.of("proxyEnd").length === 1);
    expect(r.bytes(4)).toBe(4 * MiB);
  });

  it("streams an upload to the task, granting credit as the task reads it, and refuses a master that overruns its window", async () => {
    const proxy = service();
    const r = recorder();
    proxy.connected(r.channel);
    proxy.handle(open(5, Number(server.port), { method: "POST", path: "/upload", body: true }));
    const body = new Uint8Array(3 * MiB).map((_, i) => i % 253);
    let sent = 0;
    const granted = () => PROXY_WINDOW_BYTES + r.of("proxyCredit").reduce((n, c) => n + (c.sid === 5 ? c.bytes : 0), 0);
    while (sent < body.byteLength) {
      // As the master does: never more than the agent has granted.
      await until("credit", () => granted() > sent);
      const chunk = body.subarray(sent, Math.min(sent + PROXY_CHUNK_BYTES, granted(), body.byteLength));
      proxy.data(encodeProxyData(ProxyDataKind.BODY, 5, chunk));
      sent += chunk.byteLength;
    }
    proxy.handle({ type: "proxyEnd", sid: 5 });
    await until("the end", () => r.of("proxyEnd").length === 1 || r.of("proxyHead")[0]?.end === true);
    expect(JSON.parse(r.text(5))).toEqual({ bytes: body.byteLength, sha256: createHash("sha256").update(body).digest("hex") });

    proxy.handle(open(6, Number(server.port), { method: "POST", path: "/upload", body: true }));
    for (let n = 0; n <= PROXY_WINDOW_BYTES; n += PROXY_CHUNK_BYTES) proxy.data(encodeProxyData(ProxyDataKind.BODY, 6, new Uint8Array(PROXY_CHUNK_BYTES)));
    expect(r.of("proxyReset").find((f) => f.sid === 6)).toMatchObject({ code: "protocol" });
  });

  it("says why when nothing listens or the task answers garbage", async () => {
    const proxy = service();
    const r = recorder();
    proxy.connected(r.channel);
    proxy.handle(open(7, garbagePort, { taskId: "junk.1" }));
    const closed = Number(server.port);
    ports.set("gone.1", [closed + 1 === garbagePort ? closed + 2 : closed + 1]);
    proxy.handle(open(8, ports.get("gone.1")?.[0] ?? 0, { taskId: "gone.1" }));
    await until("two resets", () => r.of("proxyReset").length === 2);
    const resets = new Map(r.of("proxyReset").map((f) => [f.sid, f]));
    expect(resets.get(7)?.code).toBe("bad_response");
    expect(resets.get(8)?.code).toBe("connect_failed");
  });

  it("relays a WebSocket: 101 once the task's socket is open, a message larger than a chunk both ways, the client's close", async () => {
    const echo = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
      websocket: {
        message: (ws, message) => {
          ws.send(message);
        },
        close: () => {},
      },
    });
    ports.set("ws.1", [Number(echo.port)]);
    try {
      const proxy = service();
      const r = recorder();
      proxy.connected(r.channel);
      proxy.handle(open(10, Number(echo.port), { taskId: "ws.1", websocket: true, path: "/chat" }));
      await until("101", () => r.of("proxyHead").length === 1);
      expect(r.of("proxyHead")[0]?.status).toBe(101);
      const message = new Uint8Array(PROXY_CHUNK_BYTES + 10).map((_, i) => i % 251);
      proxy.data(encodeProxyData(ProxyDataKind.WS_BINARY, 10, message.subarray(0, PROXY_CHUNK_BYTES), false));
      proxy.data(encodeProxyData(ProxyDataKind.WS_BINARY, 10, message.subarray(PROXY_CHUNK_BYTES), true));
      await until("the echo", () => r.bytes(10) === message.byteLength);
      expect(r.data.filter((d) => d.sid === 10).map((d) => d.fin)).toEqual([false, true]);
      expect(Buffer.concat(r.data.filter((d) => d.sid === 10).map((d) => Buffer.from(d.payload)))).toEqual(Buffer.from(message));
      proxy.handle({ type: "proxyEnd", sid: 10, code: 1000, reason: "done" });
      expect(proxy.size).toBe(0);
    } finally {
      void echo.stop(true);
    }
  });

  it("tells the master when the task refuses the WebSocket upgrade", async () => {
    const proxy = service();
    const r = recorder();
    proxy.connected(r.channel);
    proxy.handle(open(11, Number(server.port), { websocket: true }));
    await until("a reset", () => r.of("proxyReset").length === 1);
    expect(r.of("proxyReset")[0]).toMatchObject({ sid: 11, code: "bad_response" });
  });

  it("drops its streams when the session ends", async () => {
    const proxy = service();
    const r = recorder();
    proxy.connected(r.channel);
    proxy.handle(open(9, Number(server.port), { path: "/big" }));
    await until("a window", () => r.bytes(9) > PROXY_WINDOW_BYTES - PROXY_CHUNK_BYTES);
    proxy.disconnected();
    expect(proxy.size).toBe(0);
  });
});
