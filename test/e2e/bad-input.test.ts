import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { TestCluster } from "./cluster.ts";

/** Bad input against the real runtime (workerd): raw HTTP and a raw WebSocket client. */
describe("bad input against the control plane on workerd", () => {
  const cluster = new TestCluster();
  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
  });
  afterAll(() => cluster.stop());

  const count = async (path: string, key: string) => ((await cluster.api<Record<string, unknown[]>>("GET", path))[key] ?? []).length;

  it("answers malformed JSON 400, wrong content type 415, oversize body 413, and stores nothing", async () => {
    const path = `/clusters/${cluster.clusterId}/agent-tokens`;
    const before = await count(path, "tokens");
    const send = (headers: Record<string, string>, body: string) =>
      fetch(`${cluster.url}${path}`, { method: "POST", headers: { Authorization: `Bearer ${cluster.token}`, ...headers }, body });
    const malformed = await send({ "Content-Type": "application/json" }, '{"description": ');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toMatch(/malformed json/i);
    const wrongType = await send({ "Content-Type": "application/x-www-form-urlencoded" }, "description=x");
    expect(wrongType.status).toBe(415);
    const oversize = await send({ "Content-Type": "application/json" }, JSON.stringify({ description: "x".repeat(3 * 1024 * 1024) }));
    expect(oversize.status).toBe(413);
    const invalid = await send({ "Content-Type": "application/json" }, JSON.stringify({ expiresInSeconds: "never" }));
    expect(invalid.status).toBe(422);
    expect(((await invalid.json()) as { details: { path: string }[] }).details[0]?.path).toBe("/expiresInSeconds");
    expect(await count(path, "tokens")).toBe(before);
    expect((await fetch(`${cluster.url}/health`)).status).toBe(200);
  });

  it("a raw WebSocket client sending garbage, unknown types and oversize frames gets errors and stays connected", async () => {
    const { token } = await cluster.api<{ token: string }>("POST", `/clusters/${cluster.clusterId}/agent-tokens`, {});
    const url = `${cluster.url.replace("http", "ws")}/c/${cluster.clusterId}/agent/connect`;
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    const frames: string[] = [];
    let closed: number | undefined;
    ws.on("message", (data) => frames.push(data.toString()));
    ws.on("close", (code) => (closed = code));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const nextFrame = async () => {
      const deadline = Date.now() + 10_000;
      while (frames.length === 0) {
        if (Date.now() > deadline) throw new Error("no reply frame");
        await new Promise((r) => setTimeout(r, 20));
      }
      return JSON.parse(frames.shift() as string) as { type: string; message: string };
    };
    const cases: [string | Buffer, RegExp][] = [
      ["\u0000\u0001garbage", /not valid JSON/],
      ["[1,2,3]", /does not match/],
      [JSON.stringify({ type: "launch-the-missiles" }), /unknown message type/],
      [JSON.stringify({ type: "status", updates: [] }), /register first|does not match/],
      ["y".repeat(1024 * 1024 + 100), /too large/],
      [Buffer.from([0xde, 0xad, 0xbe, 0xef]), /binary/],
    ];
    for (const [frame, expected] of cases) {
      ws.send(frame);
      const reply = await nextFrame();
      expect(reply.type).toBe("error");
      expect(reply.message).toMatch(expected);
    }
    expect(closed).toBeUndefined();
    expect(await count(`/c/${cluster.clusterId}/agents`, "agents")).toBe(0);
    ws.close();
  });

  it("a WebSocket with a bad credential is closed with 1008, and the server stays up", async () => {
    const url = `${cluster.url.replace("http", "ws")}/c/${cluster.clusterId}/agent/connect`;
    for (const auth of ["Bearer dcxj_bogus", "Bearer dcxa_bogus", "Bearer nonsense", ""]) {
      const ws = new WebSocket(url, auth ? { headers: { Authorization: auth } } : {});
      const code = await new Promise<number>((resolve) => ws.on("close", (c) => resolve(c)));
      expect(code, auth).toBe(1008);
    }
    expect((await fetch(`${cluster.url}/health`)).status).toBe(200);
  });
});
