import { describe, expect, it } from "vitest";
import { decodeProxyData, encodeProxyData, PROXY_CHUNK_BYTES, PROXY_WINDOW_BYTES, ProxyDataKind, type ProxyOpen } from "../../protocol/index.ts";
import { type Account, call, joinAgent, signUp, type TestSocket } from "./helpers.ts";
import { Framework } from "./scheduler-helpers.ts";
import { Browser, linkedUrls } from "./ui-helpers.ts";

interface Launched {
  taskId: string;
  ports: number[];
}

/** The binary frames an agent socket receives, decoded (TestSocket keeps only text frames). */
function binaryFrames(socket: TestSocket) {
  const frames: NonNullable<ReturnType<typeof decodeProxyData>>[] = [];
  socket.ws.binaryType = "arraybuffer";
  socket.ws.addEventListener("message", (e) => {
    if (typeof e.data === "string") return;
    const frame = decodeProxyData(new Uint8Array(e.data as ArrayBuffer));
    if (frame) frames.push({ ...frame, payload: frame.payload.slice() });
  });
  return frames;
}

/** A cluster with a protocol-level agent: apps are deployed and their tasks reported RUNNING by hand. */
async function proxyCluster() {
  const account = await signUp();
  const agent = await joinAgent(account);
  const data = binaryFrames(agent.socket);
  const deploy = async (app: Record<string, unknown>): Promise<Launched> => {
    const res = await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { cmd: "serve", cpus: 0.1, mem: 16, ...app } });
    expect(res.status).toBe(201);
    const launch = await agent.socket.nextOfType<{ tasks: Launched[] }>("launch");
    const task = launch.tasks[0] as Launched;
    agent.socket.send({ type: "status", updates: [{ updateId: `run-${task.taskId}`, taskId: task.taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
    await agent.socket.nextOfType("ack");
    return task;
  };
  const service = (path: string, init: RequestInit & { token?: string } = {}, a: Account = account) =>
    call(`/c/${a.cluster.id}/service/${path}`, { token: a.token, ...init });
  /** Answers the next proxyOpen with a head, a body and the end; returns the open frame. */
  const answer = async (status: number, headers: [string, string][], body = "") => {
    const open = await agent.socket.nextOfType<ProxyOpen>("proxyOpen");
    agent.socket.send({ type: "proxyHead", sid: open.sid, status, headers });
    if (body !== "") agent.socket.ws.send(encodeProxyData(ProxyDataKind.BODY, open.sid, new TextEncoder().encode(body)));
    agent.socket.send({ type: "proxyEnd", sid: open.sid });
    return open;
  };
  return { account, ...agent, data, deploy, service, answer };
}

describe("the service proxy (/c/:cluster/service/<name>/…)", () => {
  it("sends a request for an app by its id to its RUNNING task's port over the agent's socket, prefix stripped, DCX credentials removed", async () => {
    const { account, deploy, service, answer } = await proxyCluster();
    const task = await deploy({ id: "/web", portDefinitions: [{ port: 0 }] });
    const pending = service("web/a/b?q=1", { headers: { Cookie: "dcx_session=x; theme=dark", "X-Forwarded-For": "6.6.6.6" } });
    const open = await answer(
      200,
      [
        ["content-type", "text/plain"],
        ["set-cookie", "app=1"],
        ["set-cookie", "dcx_session=planted"],
      ],
      "hello",
    );
    expect(open).toMatchObject({ taskId: task.taskId, port: task.ports[0], scheme: "http", method: "GET", path: "/a/b?q=1", body: false, websocket: false });
    const headers = new Map(open.headers);
    expect(headers.get("host")).toBe("dcx.test");
    expect(headers.get("cookie")).toBe("theme=dark");
    expect(headers.has("authorization")).toBe(false);
    expect(headers.get("x-forwarded-for")).not.toBe("6.6.6.6");
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello");
    expect(res.headers.getSetCookie()).toEqual(["app=1"]);
    // HTTP Basic with the token as the password, as on the API (what Marathon's clients send).
    const basic = service("web/", { token: "", headers: { Authorization: `Basic ${btoa(`anyone:${account.token}`)}` } });
    expect(new Map((await answer(200, [], "ok")).headers).has("authorization")).toBe(false);
    expect((await basic).status).toBe(200);
  });

  it("takes a small answer in one frame: the head carrying the start of the body and its end", async () => {
    const { socket, deploy, service } = await proxyCluster();
    await deploy({ id: "/web" });
    const pending = service("web/");
    const open = await socket.nextOfType<ProxyOpen>("proxyOpen");
    socket.send({ type: "proxyHead", sid: open.sid, status: 200, headers: [["content-type", "text/plain"]], body: btoa("all of it"), end: true });
    const res = await pending;
    expect(await res.text()).toBe("all of it");
    expect(res.headers.get("content-type")).toBe("text/plain");
  });

  it("routes by DCOS_SERVICE_NAME, DCOS_SERVICE_PORT_INDEX, DCOS_SERVICE_SCHEME and DCOS_SERVICE_REWRITE_REQUEST_URLS, before any app id", async () => {
    const { account, deploy, service, answer } = await proxyCluster();
    const task = await deploy({
      id: "/shop/api",
      portDefinitions: [{ port: 0 }, { port: 0 }],
      labels: { DCOS_SERVICE_NAME: "front", DCOS_SERVICE_PORT_INDEX: "1", DCOS_SERVICE_SCHEME: "https", DCOS_SERVICE_REWRITE_REQUEST_URLS: "false" },
    });
    const pending = service("front/x");
    const open = await answer(204, []);
    expect(open).toMatchObject({ taskId: task.taskId, port: task.ports[1], scheme: "https", path: `/c/${account.cluster.id}/service/front/x` });
    expect((await pending).status).toBe(204);
    // By its id (Mesos-DNS's SRV record): the first port, over http, prefix stripped.
    const byId = service("shop/api/y");
    expect(await answer(200, [])).toMatchObject({ port: task.ports[0], scheme: "http", path: "/y" });
    expect((await byId).status).toBe(200);
    // A label's outer slashes do not count, as Admin Router normalises paths.
    const slashed = await deploy({ id: "/other", labels: { DCOS_SERVICE_NAME: "/tools/grafana/" } });
    const viaLabel = service("tools/grafana/d/1");
    expect(await answer(200, [])).toMatchObject({ taskId: slashed.taskId, path: "/d/1" });
    expect((await viaLabel).status).toBe(200);
  });

  it("sends requests only to healthy tasks when the app has health checks, round robin over them", async () => {
    const { socket, service, answer, account } = await proxyCluster();
    const res = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/hc", cmd: "serve", cpus: 0.1, mem: 16, instances: 2, healthChecks: [{ protocol: "HTTP", path: "/health", gracePeriodSeconds: 60 }] },
    });
    expect(res.status).toBe(201);
    const { tasks } = await socket.nextOfType<{ tasks: Launched[] }>("launch");
    const [a, b] = tasks.map((t) => t.taskId) as [string, string];
    socket.send({ type: "status", updates: [a, b].map((taskId) => ({ updateId: `run-${taskId}`, taskId, state: "TASK_RUNNING", timestamp: Date.now() })) });
    await socket.nextOfType("ack");
    const none = await service("hc/");
    expect(none.status).toBe(503);
    expect(((await none.json()) as { message: string }).message).toMatch(/2 RUNNING task\(s\), none healthy/);
    socket.send({ type: "status", updates: [{ updateId: `healthy-${a}`, taskId: a, state: "TASK_RUNNING", healthy: true, timestamp: Date.now() }] });
    await socket.nextOfType("ack");
    const chosen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const pending = service("hc/");
      chosen.push((await answer(200, [])).taskId);
      expect((await pending).status).toBe(200);
    }
    expect(chosen).toEqual([a, a, a]);
    socket.send({ type: "status", updates: [{ updateId: `healthy-${b}`, taskId: b, state: "TASK_RUNNING", healthy: true, timestamp: Date.now() }] });
    await socket.nextOfType("ack");
    const spread = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const pending = service("hc/");
      spread.add((await answer(200, [])).taskId);
      await pending;
    }
    expect([...spread].sort()).toEqual([a, b].sort());
  });

  it("reaches a framework's web UI by its name when its webui_url is a port of a running task, under the URL's path", async () => {
    const { account, deploy, service, answer } = await proxyCluster();
    const task = await deploy({ id: "/scheduler", portDefinitions: [{ port: 0 }] });
    const fw = await Framework.subscribe(account, { name: "spark", webui_url: `http://node-1:${task.ports[0]}/ui/` });
    const pending = service("spark/jobs");
    expect(await answer(200, [])).toMatchObject({ taskId: task.taskId, port: task.ports[0], path: "/ui/jobs" });
    expect((await pending).status).toBe(200);
    const byId = service(`${fw.frameworkId}/`);
    expect(await answer(200, [])).toMatchObject({ taskId: task.taskId, path: "/ui/" });
    expect((await byId).status).toBe(200);
    // A webui_url anywhere else is not reachable: the proxy dials nothing but task ports.
    await Framework.subscribe(account, { name: "elsewhere", webui_url: "http://203.0.113.9:8080/" });
    const elsewhere = await service("elsewhere/");
    expect(elsewhere.status).toBe(503);
    expect(((await elsewhere.json()) as { message: string }).message).toMatch(/not a port of a RUNNING task/);
  });

  it("rewrites the task's redirects under the prefix, and answers /service/<name> with a 301 to /service/<name>/", async () => {
    const { account, deploy, service, answer } = await proxyCluster();
    await deploy({ id: "/web" });
    const bare = await service("web?x=1", { redirect: "manual" });
    expect(bare.status).toBe(301);
    expect(bare.headers.get("location")).toBe(`/c/${account.cluster.id}/service/web/?x=1`);
    for (const [location, expected] of [
      ["/login", `/c/${account.cluster.id}/service/web/login`],
      ["http://dcx.test/login?next=/", `/c/${account.cluster.id}/service/web/login?next=/`],
      ["http://127.0.0.1:31000/", `/c/${account.cluster.id}/service/web/`],
      [`/c/${account.cluster.id}/service/web/already`, `/c/${account.cluster.id}/service/web/already`],
      ["https://elsewhere.example/x", "https://elsewhere.example/x"],
    ]) {
      const pending = service("web/", { redirect: "manual" });
      await answer(302, [["location", location as string]]);
      expect((await pending).headers.get("location")).toBe(expected);
    }
  });

  it("streams an upload within the agent's credit: one window, then only as the agent grants more", async () => {
    const { socket, data, deploy, service } = await proxyCluster();
    await deploy({ id: "/sink" });
    const size = 3 * PROXY_WINDOW_BYTES;
    const pending = service("sink/upload", { method: "POST", body: new Uint8Array(size).fill(7) });
    const open = await socket.nextOfType<ProxyOpen>("proxyOpen");
    expect(open.body).toBe(true);
    const sent = () => data.filter((f) => f.sid === open.sid).reduce((n, f) => n + f.payload.byteLength, 0);
    await expect.poll(sent).toBe(PROXY_WINDOW_BYTES);
    // No credit, no more bytes.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sent()).toBe(PROXY_WINDOW_BYTES);
    expect(data.every((f) => f.payload.byteLength <= PROXY_CHUNK_BYTES)).toBe(true);
    socket.send({ type: "proxyCredit", sid: open.sid, bytes: 2 * PROXY_WINDOW_BYTES });
    await expect.poll(sent).toBe(size);
    expect(await socket.nextOfType("proxyEnd")).toEqual({ type: "proxyEnd", sid: open.sid });
    socket.send({ type: "proxyHead", sid: open.sid, status: 201, headers: [] });
    socket.send({ type: "proxyEnd", sid: open.sid });
    expect((await pending).status).toBe(201);
  });

  it("grants the agent credit as the client reads the answer, and resets a stream whose agent overruns its window", async () => {
    const { socket, deploy, service } = await proxyCluster();
    await deploy({ id: "/big" });
    const pending = service("big/");
    const open = await socket.nextOfType<ProxyOpen>("proxyOpen");
    socket.send({ type: "proxyHead", sid: open.sid, status: 200, headers: [] });
    const chunk = new Uint8Array(PROXY_CHUNK_BYTES).fill(1);
    for (let sent = 0; sent < PROXY_WINDOW_BYTES; sent += PROXY_CHUNK_BYTES) socket.ws.send(encodeProxyData(ProxyDataKind.BODY, open.sid, chunk));
    const res = await pending;
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let read = 0;
    while (read < PROXY_WINDOW_BYTES) read += (await reader.read()).value?.byteLength ?? 0;
    const credit = await socket.nextOfType<{ sid: number; bytes: number }>("proxyCredit");
    expect(credit.sid).toBe(open.sid);
    expect(credit.bytes).toBeGreaterThanOrEqual(PROXY_WINDOW_BYTES / 2);
    // Past the window and the credit: the object refuses to hold more.
    for (let sent = 0; sent <= credit.bytes + PROXY_WINDOW_BYTES; sent += PROXY_CHUNK_BYTES)
      socket.ws.send(encodeProxyData(ProxyDataKind.BODY, open.sid, chunk));
    expect(await socket.nextOfType("proxyReset")).toMatchObject({ sid: open.sid, code: "protocol" });
    await expect(async () => {
      for (;;) if ((await reader.read()).done) break;
    }).rejects.toThrow();
  });

  it("answers 404, 503, 502 and 504 with the reason, never 500, and the agent's socket stays up", async () => {
    const { account, socket, deploy, service, answer } = await proxyCluster();
    await deploy({ id: "/web" });
    const error = async (res: Response, status: number, message: RegExp) => {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    };
    await error(await service("nothing/"), 404, /No service named 'nothing'/);
    await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/idle", cmd: "x", cpus: 0.1, mem: 16, instances: 0 } });
    await error(await service("idle/"), 503, /has no RUNNING task/);
    for (const [code, status, message] of [
      ["refused", 502, /not a port of task/],
      ["bad_response", 502, /not valid HTTP/],
      ["limit", 503, /too many/],
    ] as const) {
      const pending = service("web/");
      const open = await socket.nextOfType<ProxyOpen>("proxyOpen");
      socket.send({
        type: "proxyReset",
        sid: open.sid,
        code,
        message: code === "refused" ? "port 1 is not a port of task x" : code === "limit" ? "too many streams" : "the task's answer is not valid HTTP",
      });
      await error(await pending, status, message);
    }
    const silent = service("web/");
    const open = await socket.nextOfType<ProxyOpen>("proxyOpen");
    await error(await silent, 504, /did not answer within 1 s/);
    expect(await socket.nextOfType("proxyReset")).toMatchObject({ sid: open.sid, code: "cancelled" });
    // A frame for a stream the object no longer holds is answered, not fatal.
    socket.send({ type: "proxyHead", sid: open.sid, status: 200, headers: [] });
    expect(await socket.nextOfType("proxyReset")).toMatchObject({ sid: open.sid });
    const fine = service("web/");
    await answer(200, [], "still here");
    expect(await (await fine).text()).toBe("still here");
    expect(socket.closed).toBeUndefined();
  });

  it("relays a WebSocket upgrade: opened at the task first, then messages both ways and the close", async () => {
    const { socket, data, deploy, service } = await proxyCluster();
    await deploy({ id: "/chat" });
    expect((await service("nothing/", { headers: { Upgrade: "websocket" } })).status).toBe(404);
    const pending = service("chat/room", { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "chat.v1" } });
    const open = await socket.nextOfType<ProxyOpen>("proxyOpen");
    expect(open).toMatchObject({ websocket: true, path: "/room" });
    expect(new Map(open.headers).get("sec-websocket-protocol")).toBe("chat.v1");
    socket.send({ type: "proxyHead", sid: open.sid, status: 101, headers: [], protocol: "chat.v1" });
    const res = await pending;
    expect(res.status).toBe(101);
    const client = res.webSocket as WebSocket;
    client.accept();
    const received: string[] = [];
    client.addEventListener("message", (e) => received.push(String(e.data)));
    client.send("from the client");
    await expect.poll(() => data.filter((f) => f.sid === open.sid).map((f) => new TextDecoder().decode(f.payload))).toEqual(["from the client"]);
    expect(data.find((f) => f.sid === open.sid)).toMatchObject({ kind: ProxyDataKind.WS_TEXT, fin: true });
    socket.ws.send(encodeProxyData(ProxyDataKind.WS_TEXT, open.sid, new TextEncoder().encode("from the task")));
    await expect.poll(() => received).toEqual(["from the task"]);
    const closed = new Promise<number>((resolve) => client.addEventListener("close", (e) => resolve(e.code)));
    socket.send({ type: "proxyEnd", sid: open.sid, code: 4000, reason: "bye" });
    expect(await closed).toBe(4000);
  });

  it("a request in flight when its agent disconnects gets a 503", async () => {
    const { socket, deploy, service } = await proxyCluster();
    await deploy({ id: "/web" });
    const pending = service("web/");
    await socket.nextOfType<ProxyOpen>("proxyOpen");
    socket.ws.close(1000, "bye");
    const res = await pending;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).toMatch(/agent disconnected/);
  });

  it("refuses path tricks, oversized headers, and callers who are not members", async () => {
    const { deploy, service } = await proxyCluster();
    await deploy({ id: "/web" });
    expect((await service("web/..%2F..%2Fv2%2Fapps")).status).toBe(400);
    expect((await service("web/%2e%2e%5c")).status).toBe(400);
    expect((await service("web/%zz")).status).toBe(400);
    const big = await service("web/", { headers: { "X-Big": "x".repeat(33 * 1024) } });
    expect(big.status).toBe(431);
    expect((await service("web/", { token: "" })).status).toBe(401);
    expect((await service("web/", {}, await signUp())).status).toBe(404);
    // The UI's session cookie works as on the API: a change needs the page's CSRF token.
    const other = await signUp();
    const cookie = { Cookie: `dcx_session=${other.token}` };
    expect((await call(`/c/${other.cluster.id}/service/web/`, { method: "POST", headers: cookie, body: "x" })).status).toBe(403);
  });

  it("keeps /service/marathon and /service/metronome for the built-in services", async () => {
    const { service } = await proxyCluster();
    expect((await service("marathon/v2/apps")).status).toBe(200);
    expect((await service("metronome/v1/jobs")).status).toBe(200);
  });
});

describe("public ingress (/public/<cluster>/<name>/…)", () => {
  it("serves only apps labelled DCX_PUBLIC_INGRESS=true, without a token, sandboxed, and rate-limited per app", async () => {
    const { account, deploy, answer } = await proxyCluster();
    await deploy({ id: "/open", labels: { DCX_PUBLIC_INGRESS: "true" } });
    await deploy({ id: "/closed" });
    const pub = (path: string, init: RequestInit = {}) => call(`/public/${account.cluster.id}/${path}`, init);
    const pending = pub("open/hi", { headers: { Authorization: "Basic YXBwOnNlY3JldA==" } });
    const open = await answer(200, [], "public");
    expect(open.path).toBe("/hi");
    // The app does its own auth: its Authorization header reaches it.
    expect(new Map(open.headers).get("authorization")).toBe("Basic YXBwOnNlY3JldA==");
    const res = await pending;
    expect(await res.text()).toBe("public");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect((await pub("closed/")).status).toBe(404);
    expect((await call(`/public/nosuchcluster/open/`)).status).toBe(404);
    // Admin Router's 301 for a bare name, only once the name is known to be public: any other looks like nothing.
    const bare = await pub("open?x=1", { redirect: "manual" });
    expect(bare.status).toBe(301);
    expect(bare.headers.get("location")).toBe(`/public/${account.cluster.id}/open/?x=1`);
    expect((await pub("closed", { redirect: "manual" })).status).toBe(404);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await pub("closed/")).status);
    expect(statuses).toContain(429);
  });
});

describe("the UI links each service that has a web interface", () => {
  it("offers 'Open service' (by DCOS_SERVICE_NAME, else by id when the app has a port) and the public URL, on the Services list and the service's page", async () => {
    const browser = await new Browser().signUp();
    const id = browser.clusterId;
    const create = async (app: Record<string, unknown>) =>
      expect(
        (await call(`/c/${id}/v2/apps`, { method: "POST", token: browser.session ?? "", json: { cmd: "x", cpus: 0.1, mem: 16, instances: 0, ...app } })).status,
      ).toBe(201);
    await create({ id: "/shop/front", portDefinitions: [{ port: 0 }], labels: { DCOS_SERVICE_NAME: "storefront", DCX_PUBLIC_INGRESS: "true" } });
    await create({ id: "/api", portDefinitions: [{ port: 0 }] });
    await create({ id: "/worker", portDefinitions: [] });
    const root = linkedUrls((await browser.page(`/ui/${id}/services`)).html);
    expect(root).toContain(`/c/${id}/service/api/`);
    expect(root.filter((u) => u.includes("/service/worker"))).toEqual([]);
    const group = linkedUrls((await browser.page(`/ui/${id}/services/shop`)).html);
    expect(group).toContain(`/c/${id}/service/storefront/`);
    expect(group).toContain(`/public/${id}/storefront/`);
    expect(linkedUrls((await browser.page(`/ui/${id}/services/shop/front`)).html)).toContain(`/c/${id}/service/storefront/`);
  });
});
