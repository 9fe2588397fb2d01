import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import type { ClusterMetrics } from "../../control/cluster/metrics.ts";
import { decodeMessage, encodeBase64Url, encodeQuery } from "../../control/dns/index.ts";
import { DNS_LEASE_HEADER, DNS_LEASE_MS } from "../../protocol/index.ts";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";

interface Answer {
  name: string;
  type: string;
  ttl?: number;
  data: unknown;
}

async function dnsKey(account: Account): Promise<{ id: string; key: string }> {
  const res = await call(`/clusters/${account.cluster.id}/dns-keys`, { method: "POST", token: account.token, json: {} });
  return res.json();
}

async function query(key: string, name: string, type = "A", via: "post" | "get" = "post") {
  const bytes = encodeQuery(name, type, 4242);
  const res =
    via === "post"
      ? await call(`/dns/${key}/dns-query`, { method: "POST", headers: { "Content-Type": "application/dns-message" }, body: bytes })
      : await call(`/dns/${key}/dns-query?dns=${encodeBase64Url(bytes)}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toBe("application/dns-message");
  const decoded = decodeMessage(new Uint8Array(await res.arrayBuffer()));
  if (!decoded.ok) throw new Error(decoded.reason);
  const p = decoded.packet;
  return {
    id: p.id,
    rcode: (p.flags ?? 0) & 0xf,
    answers: (p.answers ?? []) as Answer[],
    authorities: (p.authorities ?? []) as Answer[],
    cache: res.headers.get("Cache-Control"),
    lease: Number(res.headers.get(DNS_LEASE_HEADER) ?? Number.NaN),
  };
}

/** A cluster with one agent running one task of /shop/web (port named http) and one still staging. */
async function setUp() {
  const account = await signUp();
  const { socket, agentId } = await joinAgent(account, { ip: "10.0.0.7" });
  await call(`/c/${account.cluster.id}/v2/apps`, {
    method: "POST",
    token: account.token,
    json: { id: "/shop/web", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 2, portDefinitions: [{ port: 0, name: "http" }] },
  });
  let frame: { type?: string; tasks?: { taskId: string; ports: number[] }[] };
  do frame = await socket.next();
  while (frame.type !== "launch");
  const [running, staging] = frame.tasks ?? [];
  socket.send({ type: "status", updates: [{ updateId: `dns-${running?.taskId}`, taskId: running?.taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
  do frame = await socket.next();
  while (frame.type !== "ack");
  return { account, socket, agentId, running: running as { taskId: string; ports: number[] }, staging: staging as { taskId: string } };
}

describe("DNS-over-HTTPS", () => {
  it("answers a RUNNING task's Mesos-DNS names (both forms), by POST and GET, echoing the id, with max-age = TTL", async () => {
    const { account } = await setUp();
    const { key } = await dnsKey(account);
    for (const name of ["web-shop.marathon.mesos", "web.shop.marathon.mesos", "WEB-SHOP.Marathon.Mesos", "web-shop.marathon.slave.mesos"]) {
      const r = await query(key, name);
      expect(r.rcode, name).toBe(0);
      expect(r.id).toBe(4242);
      expect(r.answers.map((a) => a.data)).toEqual(["10.0.0.7"]);
      expect(r.cache).toBe("max-age=5");
    }
    const viaGet = await query(key, "web-shop.marathon.mesos", "A", "get");
    expect(viaGet.answers.map((a) => a.data)).toEqual(["10.0.0.7"]);
    expect(viaGet.cache).toBe("max-age=5");
  });

  it("points leader.mesos at the host the query was sent to: its address for an IP (port dropped), a CNAME for a name", async () => {
    const account = await signUp();
    const { key } = await dnsKey(account);
    const leader = async (host: string) => {
      const res = await exports.default.fetch(
        new Request(`http://${host}/dns/${key}/dns-query`, {
          method: "POST",
          headers: { "Content-Type": "application/dns-message" },
          body: encodeQuery("leader.mesos", "A", 7),
        }),
      );
      const decoded = decodeMessage(new Uint8Array(await res.arrayBuffer()));
      if (!decoded.ok) throw new Error(decoded.reason);
      return ((decoded.packet.answers ?? []) as Answer[]).map((a) => [a.type, a.data]);
    };
    expect(await leader("127.0.0.1:8787")).toEqual([["A", "127.0.0.1"]]);
    expect(await leader("DCX.Example.com:8443")).toContainEqual(["CNAME", "dcx.example.com"]);
  });

  it("answers SRV with the task's host port, named ports too", async () => {
    const { account, running } = await setUp();
    const { key } = await dnsKey(account);
    const srv = await query(key, "_web-shop._tcp.marathon.mesos", "SRV");
    expect(srv.answers).toHaveLength(1);
    expect(srv.answers[0]?.data).toMatchObject({ port: running.ports[0] });
    const named = await query(key, "_http._web-shop._tcp.marathon.mesos", "SRV");
    expect(named.answers[0]?.data).toMatchObject({ port: running.ports[0] });
  });

  it("NXDOMAIN for an unknown name and NODATA for a known name of another type, each with the SOA", async () => {
    const { account } = await setUp();
    const { key } = await dnsKey(account);
    const nx = await query(key, "nope.marathon.mesos");
    expect(nx.rcode).toBe(3);
    expect(nx.authorities[0]?.type).toBe("SOA");
    expect(nx.cache).toBe("max-age=5");
    const nodata = await query(key, "web-shop.marathon.mesos", "TXT");
    expect(nodata.rcode).toBe(0);
    expect(nodata.answers).toEqual([]);
    expect(nodata.authorities[0]?.type).toBe("SOA");
  });

  it("a task that is killed leaves the answers at once", async () => {
    const { account, running } = await setUp();
    const { key } = await dnsKey(account);
    expect((await query(key, "web-shop.marathon.mesos")).answers).toHaveLength(1);
    await call(`/c/${account.cluster.id}/v2/apps/shop/web/tasks/${running.taskId}`, { method: "DELETE", token: account.token });
    const after = await query(key, "web-shop.marathon.mesos");
    expect(after.rcode).toBe(3);
    expect(after.answers).toEqual([]);
  });

  it("speaks the JSON dialect", async () => {
    const { account } = await setUp();
    const { key } = await dnsKey(account);
    const res = await call(`/dns/${key}/dns-query?name=web.shop.marathon.mesos&type=A`);
    expect(res.headers.get("Content-Type")).toBe("application/dns-json");
    const body = (await res.json()) as { Status: number; Answer: { name: string; type: number; data: string }[] };
    expect(body.Status).toBe(0);
    expect(body.Answer).toEqual([{ name: "web.shop.marathon.mesos.", type: 1, TTL: 5, data: "10.0.0.7" }]);
    const bad = await call(`/dns/${key}/dns-query?name=${"x".repeat(70)}.mesos`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain("name");
  });

  it("an unknown or revoked key is 401 and reveals nothing; another cluster's key sees none of the names", async () => {
    const { account } = await setUp();
    const { id, key } = await dnsKey(account);
    const unknown = await call(`/dns/dcxd_nope/dns-query?name=web.shop.marathon.mesos`);
    expect(unknown.status).toBe(401);
    const other = await signUp();
    const { key: otherKey } = await dnsKey(other);
    expect((await query(otherKey, "web-shop.marathon.mesos")).rcode).toBe(3);
    await call(`/clusters/${account.cluster.id}/dns-keys/${id}`, { method: "DELETE", token: account.token });
    const revoked = await call(`/dns/${key}/dns-query?name=web.shop.marathon.mesos`);
    expect(revoked.status).toBe(401);
    expect(await revoked.text()).toBe(await (await call(`/dns/dcxd_nope/dns-query?name=x.mesos`)).text());
  });

  it("rejects bad requests: 415 wrong type, 400 undecodable, 400 bad base64url, 413 too large; outside names REFUSED when forwarding is off", async () => {
    const { account } = await setUp();
    const { key } = await dnsKey(account);
    const wrongType = await call(`/dns/${key}/dns-query`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "hello" });
    expect(wrongType.status).toBe(415);
    const garbage = await call(`/dns/${key}/dns-query`, {
      method: "POST",
      headers: { "Content-Type": "application/dns-message" },
      body: new Uint8Array([1, 2, 3]),
    });
    expect(garbage.status).toBe(400);
    expect((await call(`/dns/${key}/dns-query?dns=AAAA=`)).status).toBe(400);
    const huge = await call(`/dns/${key}/dns-query`, { method: "POST", headers: { "Content-Type": "application/dns-message" }, body: new Uint8Array(70_000) });
    expect(huge.status).toBe(413);
    const outside = await query(key, "example.com");
    expect(outside.rcode).toBe(5);
  });

  it("serves the agent's forwarder at /c/:cluster/dns-query with the agent credential", async () => {
    const { account } = await setUp();
    const fresh = await joinAgent(account, { hostname: "node-2", ip: "10.0.0.8" });
    const bytes = encodeQuery("slave.mesos", "A");
    const res = await call(`/c/${account.cluster.id}/dns-query`, {
      method: "POST",
      headers: { "Content-Type": "application/dns-message", Authorization: `Bearer ${fresh.credential}` },
      body: bytes,
    });
    expect(res.status).toBe(200);
    const decoded = decodeMessage(new Uint8Array(await res.arrayBuffer()));
    expect(decoded.ok && (decoded.packet.answers ?? []).map((a) => a.data).sort()).toEqual(["10.0.0.7", "10.0.0.8"]);
    const denied = await call(`/c/${account.cluster.id}/dns-query`, {
      method: "POST",
      headers: { "Content-Type": "application/dns-message", Authorization: "Bearer dcxa_bogus" },
      body: bytes,
    });
    expect(denied.status).toBe(401);
  });
});

/**
 * The cluster object's count of the Worker's zone checks (`dcx_dns_snapshot_checks_total`), read
 * inside the object (a scrape through the Worker would report this isolate's queries, a check itself).
 */
async function zoneChecks(account: Account): Promise<number> {
  const families = await runInDurableObject(env.CLUSTER.getByName(account.cluster.id), (instance: Cluster) =>
    (instance as unknown as { metrics: ClusterMetrics }).metrics.collect(),
  );
  const family = families.find((f) => f.name === "dcx_dns_snapshot_checks_total");
  return family?.type === "counter" ? family.samples.reduce((sum, sample) => sum + sample.value, 0) : 0;
}

/**
 * DNS answered by the Worker from its copy of the zone (control/dns/edge.ts), with the lease
 * rules of protocol/dns-lease.ts. Only `Date` is faked, to freeze or step the lease.
 */
describe("DNS at the edge", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers steady-state queries without asking the cluster's object, and says how much of the lease is left", async () => {
    const { account } = await setUp();
    const { key } = await dnsKey(account);
    vi.useFakeTimers({ toFake: ["Date"] });
    await query(key, "web-shop.marathon.mesos");
    const before = await zoneChecks(account);
    for (let i = 0; i < 50; i++) {
      const r = await query(key, "web-shop.marathon.mesos", "A", i % 2 === 0 ? "post" : "get");
      expect(r.answers).toHaveLength(1);
      expect(r.lease).toBeGreaterThan(0);
      expect(r.lease).toBeLessThanOrEqual(DNS_LEASE_MS);
    }
    expect(await zoneChecks(account)).toBe(before);
    // Once the lease is over, one check renews it (the version alone: nothing changed).
    vi.setSystemTime(Date.now() + DNS_LEASE_MS);
    for (let i = 0; i < 10; i++) await query(key, "web-shop.marathon.mesos");
    expect(await zoneChecks(account)).toBe(before + 1);
  });

  it("a name answers in the first query after its task is RUNNING, though this isolate holds a copy from before", async () => {
    const { account, socket } = await setUp();
    const { key } = await dnsKey(account);
    vi.useFakeTimers({ toFake: ["Date"] });
    await call(`/c/${account.cluster.id}/v2/apps`, { method: "POST", token: account.token, json: { id: "/api", cmd: "sleep 100", cpus: 0.1, mem: 16 } });
    let frame: { type?: string; tasks?: { taskId: string }[] };
    do frame = await socket.next();
    while (frame.type !== "launch");
    const before = await query(key, "api.marathon.mesos");
    expect(before.rcode).toBe(3);
    expect(before.lease).toBe(0);
    // RUNNING reaches the object over the agent's socket, not through this isolate: its copy is still leased.
    const taskId = frame.tasks?.[0]?.taskId;
    socket.send({ type: "status", updates: [{ updateId: `run-${taskId}`, taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
    do frame = await socket.next();
    while (frame.type !== "ack");
    const after = await query(key, "api.marathon.mesos");
    expect(after.rcode).toBe(0);
    expect(after.answers.map((a) => a.data)).toEqual(["10.0.0.7"]);
  });

  it("a kill through the API is seen by the next query here, though the copy's lease would still hold", async () => {
    const { account, running } = await setUp();
    const { key } = await dnsKey(account);
    vi.useFakeTimers({ toFake: ["Date"] });
    expect((await query(key, "web-shop.marathon.mesos")).answers).toHaveLength(1);
    await call(`/c/${account.cluster.id}/v2/apps/shop/web/tasks/${running.taskId}`, { method: "DELETE", token: account.token });
    expect((await query(key, "web-shop.marathon.mesos")).rcode).toBe(3);
  });

  it("a Response copies its body when it is made (the kept answers write each query's id into the same bytes)", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const res = new Response(bytes);
    bytes[0] = 9;
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([1, 2, 3]);
  });

  it("answers a query asked again from its kept encoding: each its own id, the records in turn first, concurrent queries too", async () => {
    const { account, socket, staging } = await setUp();
    socket.send({ type: "status", updates: [{ updateId: `run-${staging.taskId}`, taskId: staging.taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
    let frame: { type?: string };
    do frame = await socket.next();
    while (frame.type !== "ack");
    const { key } = await dnsKey(account);
    const ask = async (id: number) => {
      const res = await call(`/dns/${key}/dns-query`, {
        method: "POST",
        headers: { "Content-Type": "application/dns-message" },
        body: encodeQuery("web-shop.marathon.mesos", "A", id),
      });
      expect(res.headers.get("Cache-Control")).toBe("max-age=5");
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      const decoded = decodeMessage(new Uint8Array(await res.arrayBuffer()));
      if (!decoded.ok) throw new Error(decoded.reason);
      return decoded.packet;
    };
    const answers = await Promise.all([101, 102, 103, 104, 105, 106].map(ask));
    expect(answers.map((p) => p.id)).toEqual([101, 102, 103, 104, 105, 106]);
    // Both tasks run on the one agent: one address (Mesos-DNS drops duplicates), two SRV records, each first in turn.
    for (const p of answers) expect(p.answers?.map((a) => a.data)).toEqual(["10.0.0.7"]);
    const srvFirst = [];
    for (const id of [1, 2, 3, 4]) {
      const res = await call(`/dns/${key}/dns-query`, {
        method: "POST",
        headers: { "Content-Type": "application/dns-message" },
        body: encodeQuery("_web-shop._tcp.marathon.mesos", "SRV", id),
      });
      const decoded = decodeMessage(new Uint8Array(await res.arrayBuffer()));
      if (!decoded.ok) throw new Error(decoded.reason);
      expect(decoded.packet.id).toBe(id);
      const first = decoded.packet.answers?.[0];
      srvFirst.push(first?.type === "SRV" ? first.data.port : undefined);
    }
    expect(srvFirst[0]).not.toBe(srvFirst[1]);
    expect([srvFirst[2], srvFirst[3]]).toEqual([srvFirst[0], srvFirst[1]]);
  });

  it("a task that ends on its own leaves the answers once the lease is over", async () => {
    const { account, socket, running } = await setUp();
    const { key } = await dnsKey(account);
    vi.useFakeTimers({ toFake: ["Date"] });
    expect((await query(key, "web-shop.marathon.mesos")).answers).toHaveLength(1);
    socket.send({ type: "status", updates: [{ updateId: `fail-${running.taskId}`, taskId: running.taskId, state: "TASK_FAILED", timestamp: Date.now() }] });
    let frame: { type?: string };
    do frame = await socket.next();
    while (frame.type !== "ack");
    // The agent's report did not pass through this isolate: its copy stands until the lease ends.
    expect((await query(key, "web-shop.marathon.mesos")).answers).toHaveLength(1);
    vi.setSystemTime(Date.now() + DNS_LEASE_MS);
    expect((await query(key, "web-shop.marathon.mesos")).rcode).toBe(3);
  });
});

describe("Mesos-DNS HTTP API", () => {
  it("serves hosts, services (ports as strings), version and enumerate", async () => {
    const { account, running } = await setUp();
    const get = async (p: string) => (await call(`/c/${account.cluster.id}/mesos_dns/v1${p}`, { token: account.token })).json();
    expect(await get("/hosts/web-shop.marathon.mesos")).toEqual([{ host: "web-shop.marathon.mesos.", ip: "10.0.0.7" }]);
    const services = (await get("/services/_web-shop._tcp.marathon.mesos")) as { service: string; port: string; ip: string }[];
    expect(services).toEqual([expect.objectContaining({ service: "_web-shop._tcp.marathon.mesos.", ip: "10.0.0.7", port: String(running.ports[0]) })]);
    expect(((await get("/version")) as { Service: string }).Service).toBe("Mesos-DNS");
    const en = (await get("/enumerate")) as { frameworks: { name: string; tasks: { id: string }[] }[] };
    expect(en.frameworks.find((f) => f.name === "marathon")?.tasks.map((t) => t.id)).toEqual([running.taskId]);
  });

  it("takes a different zone per cluster", async () => {
    const { account } = await setUp();
    const { key } = await dnsKey(account);
    const set = await call(`/c/${account.cluster.id}/dns`, { method: "PATCH", token: account.token, json: { zone: "dcx.internal", ttl: 30 } });
    expect(await set.json()).toEqual({ zone: "dcx.internal", ttl: 30, vipRange: "127.11.0.0/16" });
    const r = await query(key, "web-shop.marathon.dcx.internal");
    expect(r.answers.map((a) => a.data)).toEqual(["10.0.0.7"]);
    expect(r.cache).toBe("max-age=30");
    const bad = await call(`/c/${account.cluster.id}/dns`, { method: "PATCH", token: account.token, json: { zone: "Bad Zone" } });
    expect(bad.status).toBe(422);
  });
});
