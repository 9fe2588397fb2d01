import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TOKEN_CACHE_STALE_MS, TOKEN_CACHE_TTL_MS } from "../../control/accounts/users.ts";
import { SECURITY_HEADERS } from "../../control/http/security.ts";
import { TestSocket, call, joinAgent, registerFrame, signUp } from "./helpers.ts";

async function message(res: Response): Promise<string> {
  return ((await res.json()) as { message: string }).message;
}

describe("credentials are checked for shape before any lookup", () => {
  it("answers a malformed API token (wrong prefix, wrong length, 10 KB of junk) as malformed, a well-formed unknown one as invalid", async () => {
    for (const token of ["garbage", `dcxu_${"a".repeat(42)}`, `dcxu_${"a".repeat(44)}`, `dcxu_${"a".repeat(10_000)}`, `dcxz_${"a".repeat(43)}`]) {
      const res = await call("/auth/me", { token });
      expect(res.status, token.slice(0, 12)).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toContain("Bearer");
      expect(await message(res)).toMatch(/^Malformed API token/);
    }
    const unknown = await call("/auth/me", { token: `dcxu_${"a".repeat(43)}` });
    expect(unknown.status).toBe(401);
    expect(await message(unknown)).toMatch(/Invalid or expired/);
  });

  it("refuses a malformed DNS key and a malformed agent credential the same way", async () => {
    const account = await signUp();
    const doh = await call(`/dns/${"x".repeat(5000)}/dns-query?name=a.marathon.mesos&type=A`);
    expect(doh.status).toBe(401);
    const agentDoh = await call(`/c/${account.cluster.id}/dns-query?name=a.marathon.mesos&type=A`, { token: "dcxa_short" });
    expect(agentDoh.status).toBe(401);
    expect(await message(agentDoh)).toMatch(/^Malformed/);
    const socket = await TestSocket.open(account.cluster.id, `dcxa_${"!".repeat(43)}`);
    const closed = await socket.waitClosed();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain("malformed");
  });
});

describe("agents that joined before D1 kept credentials", () => {
  it("still connect: the object is asked while it has not copied its credentials into D1, and copies them as it starts", async () => {
    const account = await signUp();
    const { agentId, credential, socket } = await joinAgent(account);
    socket.ws.close();
    // As before the upgrade: D1 knows nothing of this cluster's agents, and the object has not copied them.
    await env.DB.prepare("DELETE FROM agent_credentials WHERE cluster_id = ?").bind(account.cluster.id).run();
    const stub = env.CLUSTER.getByName(account.cluster.id);
    await runInDurableObject(stub, (_instance: Cluster, state) => void state.storage.sql.exec("DELETE FROM meta WHERE key = 'agent_credentials_exported_at'"));
    const back = await TestSocket.open(account.cluster.id, credential);
    back.send(registerFrame({ agentId }));
    expect(await back.nextOfType<{ agentId: string }>("registered")).toMatchObject({ agentId });
    back.ws.close();
    // The object copies them the next time it starts (here: the same step, run by hand).
    await runInDurableObject(stub, async (instance: Cluster) => {
      await (instance as unknown as { exportCredentialsOnce(): Promise<void> }).exportCredentialsOnce();
    });
    const copied = await env.DB.prepare("SELECT agent_id FROM agent_credentials WHERE cluster_id = ? ORDER BY agent_id")
      .bind(account.cluster.id)
      .all<{ agent_id: string }>();
    expect(copied.results.map((r) => r.agent_id)).toEqual(["*exported*", agentId]);
    // From then on a credential D1 does not know is refused at the edge.
    await env.DB.prepare("DELETE FROM agent_credentials WHERE agent_id = ?").bind(agentId).run();
    expect((await (await TestSocket.open(account.cluster.id, credential)).waitClosed()).code).toBe(1008);
  });
});

describe("agent credentials are checked in D1, without the cluster's object", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("records a joined agent's credential in D1, refuses one D1 does not know even though the object does, and forgets it on removal", async () => {
    const account = await signUp();
    const { agentId, credential, socket } = await joinAgent(account);
    socket.ws.close();
    const row = await env.DB.prepare("SELECT cluster_id, agent_id FROM agent_credentials WHERE agent_id = ?")
      .bind(agentId)
      .first<{ cluster_id: string; agent_id: string }>();
    expect(row).toEqual({ cluster_id: account.cluster.id, agent_id: agentId });
    const dns = `/c/${account.cluster.id}/dns-query?name=x.marathon.mesos&type=A`;
    expect((await call(dns, { token: credential })).status).toBe(200);
    // Another cluster's path with this credential: refused by D1's answer alone.
    const other = await signUp();
    expect((await call(`/c/${other.cluster.id}/dns-query?name=x.marathon.mesos&type=A`, { token: credential })).status).toBe(401);
    // D1 is asked first: without its row, the Worker refuses before the object (which still knows
    // the agent) is asked: at once for the socket; for DoH, whose check is cached per isolate,
    // once the cache's bound has passed, stale answer included (a removal made through the API
    // forgets it at once).
    await env.DB.prepare("DELETE FROM agent_credentials WHERE agent_id = ?").bind(agentId).run();
    const refused = await TestSocket.open(account.cluster.id, credential);
    expect((await refused.waitClosed()).code).toBe(1008);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + TOKEN_CACHE_TTL_MS + TOKEN_CACHE_STALE_MS + 1);
    expect((await call(dns, { token: credential })).status).toBe(401);
    vi.useRealTimers();
    // Removal drops the row, and this isolate's cached check at once.
    const again = await joinAgent(account, { hostname: "second" });
    again.socket.ws.close();
    expect((await call(dns, { token: again.credential })).status).toBe(200);
    expect((await call(`/c/${account.cluster.id}/agents/${again.agentId}`, { method: "DELETE", token: account.token })).status).toBe(204);
    const gone = await env.DB.prepare("SELECT COUNT(*) AS n FROM agent_credentials WHERE agent_id = ?").bind(again.agentId).first<{ n: number }>();
    expect(gone?.n).toBe(0);
    expect((await call(dns, { token: again.credential })).status).toBe(401);
  });
});

describe("security headers", () => {
  const expectSecure = (res: Response, what: string) => {
    for (const name of Object.keys(SECURITY_HEADERS)) expect(res.headers.get(name), `${what}: ${name}`).not.toBeNull();
    expect(res.headers.get("X-Content-Type-Options"), what).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options"), what).toBe("DENY");
    expect(res.headers.get("Content-Security-Policy"), what).toContain("frame-ancestors 'none'");
  };

  it("are on every kind of response: JSON, errors, 404s, 422s, DoH, event streams, pages", async () => {
    const account = await signUp();
    const keyRes = await call(`/clusters/${account.cluster.id}/dns-keys`, { method: "POST", token: account.token, json: {} });
    const { key } = (await keyRes.json()) as { key: string };
    const events = await call(`/c/${account.cluster.id}/v2/events`, { token: account.token, headers: { Accept: "text/event-stream" } });
    const responses: [string, Response][] = [
      ["health", await call("/health")],
      ["me", await call("/auth/me", { token: account.token })],
      ["401", await call("/auth/me")],
      ["404", await call("/no/such/route")],
      ["422", await call("/auth/signup", { method: "POST", json: { email: "nope" } })],
      ["doh", await call(`/dns/${key}/dns-query?name=x.marathon.mesos&type=A`)],
      ["events", events],
      ["page", await call("/login")],
    ];
    for (const [what, res] of responses) expectSecure(res, what);
    await events.body?.cancel();
    // A page keeps its own, richer policy.
    expect(responses.at(-1)?.[1].headers.get("Content-Security-Policy")).toContain("script-src 'self'");
  });

  it("add HSTS over HTTPS only", async () => {
    const plain = await call("/health");
    expect(plain.headers.get("Strict-Transport-Security")).toBeNull();
    const secure = await exports.default.fetch(new Request("https://dcx.test/health"));
    expect(secure.headers.get("Strict-Transport-Security")).toMatch(/max-age=\d{7,}/);
  });
});
