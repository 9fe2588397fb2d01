import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";

const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "proxy-server.mjs");
const MiB = 1024 * 1024;

interface Task {
  id: string;
  state: string;
  slaveId: string;
}

/** The fixture's `/bytes` pattern: byte i of each MiB is i*7 mod 251. */
function patternSha256(mb: number): string {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i++) block[i] = (i * 7) % 251;
  const hash = createHash("sha256");
  for (let i = 0; i < mb; i++) hash.update(block);
  return hash.digest("hex");
}

/**
 * The service proxy end to end: the control plane on workerd, real Bun agents, and real task
 * processes (test/e2e/fixtures/proxy-server.mjs) reached through `/c/:cluster/service/<name>/`
 * and `/public/<cluster>/<name>/` over the agents' own sockets.
 */
describe("the service proxy, through agents' sockets to real tasks", () => {
  const cluster = new TestCluster({ SERVICE_PROXY_TIMEOUT_MS: "3000" });
  const c = () => `/c/${cluster.clusterId}`;
  const auth = () => ({ Authorization: `Bearer ${cluster.token}` });
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${cluster.url}${path}`, { redirect: "manual", ...init, headers: { ...auth(), ...(init.headers ?? {}) } });
  const deploy = (id: string, extra: Record<string, unknown> = {}, args = "") =>
    cluster.api("POST", `${c()}/v2/apps`, { id, cmd: `exec node ${FIXTURE} ${args}`, cpus: 0.1, mem: 64, instances: 1, ...extra });
  const running = (id: string, count: number) =>
    waitFor(
      `${id} to run ${count} task(s)`,
      async () => {
        const { tasks } = await cluster.api<{ tasks: Task[] }>("GET", `${c()}/v2/apps${id}/tasks`);
        return tasks.length === count && tasks.every((t) => t.state === "TASK_RUNNING") ? tasks : undefined;
      },
      60_000,
      200,
    );
  /**
   * Asks through the proxy until every task listens (RUNNING means started, not yet bound):
   * requests go round robin, so a run of answers in a row covers each task.
   */
  const answering = (path: string) =>
    waitFor(
      `${path} to answer`,
      async () => {
        for (let i = 0; i < 4; i++) if ((await get(path)).status !== 200) return undefined;
        return true;
      },
      20_000,
      100,
    );

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
    const token = await cluster.joinToken();
    cluster.startAgent("a", { token, hostname: "agent-a", resources: "cpus:4;mem:4096;disk:1024;ports:[31000-31099]" });
    cluster.startAgent("b", { token, hostname: "agent-b", resources: "cpus:4;mem:4096;disk:1024;ports:[31100-31199]" });
    await deploy("/web", { instances: 2, constraints: [["hostname", "UNIQUE"]] });
    await deploy("/shop/api", {
      portDefinitions: [{ port: 0 }, { port: 0 }],
      env: { LISTEN_INDEX: "1" },
      labels: { DCOS_SERVICE_NAME: "front", DCOS_SERVICE_PORT_INDEX: "1" },
    });
    await deploy("/ctx", { labels: { DCOS_SERVICE_NAME: "ctx", DCOS_SERVICE_REWRITE_REQUEST_URLS: "false" } });
    await deploy("/garbage", {}, "garbage");
    await deploy("/pub", { labels: { DCX_PUBLIC_INGRESS: "true" } });
    await cluster.api("POST", `${c()}/v2/apps`, { id: "/idle", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 0 });
    await Promise.all([running("/web", 2), running("/shop/api", 1), running("/ctx", 1), running("/garbage", 1), running("/pub", 1)]);
    await Promise.all([
      answering(`${c()}/service/web/whoami`),
      answering(`${c()}/service/front/whoami`),
      answering(`${c()}/service/ctx/whoami`),
      answering(`${c()}/service/pub/whoami`),
    ]);
  }, 180_000);
  afterAll(() => cluster.stop());

  it("reaches an app by its id with the /service/<name> prefix stripped, as the task's own client, without DCX's credentials", async () => {
    const res = await get(`${c()}/service/web/whoami?x=1`, { headers: { Cookie: "dcx_session=secret; theme=dark" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { path: string; headers: Record<string, string> };
    expect(body.path).toBe("/whoami?x=1");
    expect(body.headers.host).toBe(`127.0.0.1:${cluster.port}`);
    expect(body.headers["x-forwarded-proto"]).toBe("http");
    expect(body.headers.authorization).toBeUndefined();
    expect(body.headers.cookie).toBe("theme=dark");
  });

  it("answers /service/<name> without a slash with Admin Router's 301, and rewrites the task's redirects under the prefix", async () => {
    const bare = await get(`${c()}/service/web?q=1`);
    expect(bare.status).toBe(301);
    expect(bare.headers.get("location")).toBe(`${c()}/service/web/?q=1`);
    for (const path of ["redirect", "abs-redirect"]) {
      const res = await get(`${c()}/service/web/${path}`);
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe(`${c()}/service/web/landing`);
    }
  });

  it("routes by DCOS_SERVICE_NAME and DCOS_SERVICE_PORT_INDEX, and keeps the whole path for DCOS_SERVICE_REWRITE_REQUEST_URLS=false", async () => {
    const [api] = await running("/shop/api", 1);
    const front = (await (await get(`${c()}/service/front/whoami`)).json()) as { task: string; path: string };
    expect(front).toMatchObject({ task: api?.id, path: "/whoami" });
    const ctx = (await (await get(`${c()}/service/ctx/whoami`)).json()) as { path: string };
    expect(ctx.path).toBe(`${c()}/service/ctx/whoami`);
    // The app id still names it, as Mesos-DNS's SRV record would: its first port, where this app does not listen.
    const byId = await get(`${c()}/service/shop/api/whoami`);
    expect(byId.status).toBe(502);
    expect(((await byId.json()) as { message: string }).message).toMatch(/nothing answers on the task's port/);
  });

  it("streams a 50 MB download and a 50 MB upload, checksummed", async () => {
    const down = await get(`${c()}/service/web/bytes?mb=50`);
    expect(down.status).toBe(200);
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of down.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    }
    expect(bytes).toBe(50 * MiB);
    expect(hash.digest("hex")).toBe(patternSha256(50));

    const upload = Buffer.alloc(50 * MiB);
    for (let i = 0; i < upload.length; i += 4) upload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const up = await get(`${c()}/service/web/upload`, { method: "POST", body: upload, headers: { "Content-Type": "application/octet-stream" } });
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ bytes: upload.length, sha256: createHash("sha256").update(upload).digest("hex") });
  }, 120_000);

  it("passes Server-Sent Events through as they come", async () => {
    const res = await get(`${c()}/service/web/sse`, { headers: { Accept: "text/event-stream" } });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // The first event arrives on its own, before the task has written the others.
    expect(first).toBe("id: 0\ndata: tick 0\n\n");
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe("id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\n");
  });

  it("relays a WebSocket both ways, text and a binary message larger than one chunk", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${cluster.port}${c()}/service/web/echo`, { headers: auth() });
    const messages: (string | Buffer)[] = [];
    const next = (n: number) => waitFor(`${n} WebSocket messages`, async () => (messages.length >= n ? true : undefined), 10_000, 20);
    ws.on("message", (data: Buffer, binary: boolean) => messages.push(binary ? data : data.toString()));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    await next(1);
    expect(messages[0]).toMatch(/^hello from .* at \/echo$/);
    ws.send("ping 1");
    await next(2);
    expect(messages[1]).toBe("ping 1");
    const big = Buffer.alloc(300 * 1024, 7);
    big.write("edges", 0);
    ws.send(big);
    await next(3);
    expect(Buffer.compare(messages[2] as Buffer, big)).toBe(0);
    const closed = new Promise<number>((resolve) => ws.once("close", resolve));
    ws.close(4001, "done");
    expect(await closed).toBe(4001);
  });

  it("spreads many concurrent requests over the app's two tasks, and both answer", async () => {
    const tasks = await running("/web", 2);
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => get(`${c()}/service/web/whoami`).then(async (r) => ({ status: r.status, body: (await r.json()) as { task: string } }))),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(a.body.task, (counts.get(a.body.task) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(tasks.map((t) => t.id).sort());
    expect([...counts.values()]).toEqual([20, 20]);
  });

  it("refuses bad input with clear errors, never a 500, and the agents' sockets stay up", async () => {
    const registrations = cluster.agents.map((a) => a.events.filter((e) => e.event === "registered").length);
    const expectError = async (res: Response, status: number, message: RegExp) => {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    };
    await expectError(await get(`${c()}/service/nothing-here/`), 404, /No service named 'nothing-here/);
    await expectError(await get(`${c()}/service/idle/`), 503, /no RUNNING task/);
    await expectError(await get(`${c()}/service/web/..%2F..%2Fv2%2Fapps`), 400, /encodes a slash/);
    await expectError(await get(`${c()}/service/web/a%5Cb`), 400, /backslash/);
    await expectError(await get(`${c()}/service/web/`, { headers: { "X-Big": "x".repeat(40 * 1024) } }), 431, /headers are \d+ bytes/);
    await expectError(await get(`${c()}/service/garbage/`), 502, /not valid HTTP/);
    await expectError(await get(`${c()}/service/web/silent`), 504, /did not answer within 3 s/);
    // A dot segment never reaches the task: the URL is resolved before routing, so the task sees no climb.
    expect(((await (await get(`${c()}/service/web/a/../whoami`)).json()) as { path: string }).path).toBe("/whoami");
    await expectError(await fetch(`${cluster.url}${c()}/service/web/whoami`), 401, /Missing API token/);
    expect((await get(`${c()}/service/web/whoami`)).status).toBe(200);
    expect(cluster.agents.map((a) => a.events.filter((e) => e.event === "registered").length)).toEqual(registrations);
  });

  it("serves an app at /public/<cluster>/<name>/ without a token only while it carries DCX_PUBLIC_INGRESS=true", async () => {
    const open = await fetch(`${cluster.url}/public/${cluster.clusterId}/pub/whoami`);
    expect(open.status).toBe(200);
    expect(((await open.json()) as { path: string }).path).toBe("/whoami");
    expect(open.headers.get("content-security-policy")).toContain("sandbox");
    expect((await fetch(`${cluster.url}/public/${cluster.clusterId}/web/whoami`)).status).toBe(404);
    expect((await fetch(`${cluster.url}/public/nosuchcluster/pub/whoami`)).status).toBe(404);
    await cluster.api("PATCH", `${c()}/v2/apps/pub?force=true`, { labels: {} });
    await waitFor(
      "public ingress to close",
      async () => ((await fetch(`${cluster.url}/public/${cluster.clusterId}/pub/whoami`)).status === 404 ? true : undefined),
      60_000,
      200,
    );
    // Still reachable by members.
    await answering(`${c()}/service/pub/whoami`);
  });

  it("a client mid-stream gets a clean error when the task's agent is SIGKILLed, and the proxy keeps serving other tasks", async () => {
    const token = await cluster.joinToken();
    const doomed = cluster.startAgent("c", { token, hostname: "agent-c", resources: "cpus:1;mem:512;disk:256;ports:[31200-31209]" });
    await deploy("/dripper", { constraints: [["hostname", "CLUSTER", "agent-c"]] });
    await running("/dripper", 1);
    await answering(`${c()}/service/dripper/whoami`);
    const res = await get(`${c()}/service/dripper/drip`);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("drip");
    doomed.proc.kill("SIGKILL");
    const outcome = await (async () => {
      try {
        for (;;) if ((await reader.read()).done) return "ended";
      } catch {
        return "error";
      }
    })();
    expect(outcome).toBe("error");
    expect((await get(`${c()}/service/web/whoami`)).status).toBe(200);
    await waitFor(
      "the dripper to be unreachable through the proxy",
      async () => ((await get(`${c()}/service/dripper/whoami`)).status === 503 ? true : undefined),
      20_000,
      200,
    );
  });
});
