import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LOGIN_ACCOUNT_CEILING, LOGIN_MAX_FAILURES } from "../../control/accounts/rate-limit.ts";
import { allocationRound } from "../../control/cluster/allocator/round.ts";
import type { FrameworkContext } from "../../control/cluster/frameworks/framework.ts";
import type { FrameworkRegistry } from "../../control/cluster/frameworks/registry.ts";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { MAX_EVENT_SUBSCRIBERS } from "../../control/cluster/events.ts";
import { PASSWORD, TestSocket, call, joinAgent, joinToken, randomAddress, registerFrame, signUp, uniqueEmail, type Account } from "./helpers.ts";

/** The test config's windows (vitest.config.ts): the production limits over 10 s instead of 60. */
const WINDOW_MS = 10_000;

/** Waits until the rate limiter's wall-clock window has rolled over. */
const nextWindow = () => new Promise((r) => setTimeout(r, WINDOW_MS - (Date.now() % WINDOW_MS) + 200));

const login = (email: string, password: string, address: string) =>
  call("/auth/login", { method: "POST", headers: { "CF-Connecting-IP": address }, json: { email, password } });

async function message(res: Response): Promise<string> {
  return ((await res.json()) as { message: string }).message;
}

describe("rate limits per client address", () => {
  it("refuse the sixth signup from one address in a window with 429 naming SIGNUP_LIMITER, not other addresses, and recover", async () => {
    const address = randomAddress();
    await nextWindow();
    const signup = (a: string) =>
      call("/auth/signup", { method: "POST", headers: { "CF-Connecting-IP": a }, json: { email: uniqueEmail("rl"), password: PASSWORD } });
    for (let i = 0; i < 5; i++) expect((await signup(address)).status).toBe(201);
    const refused = await signup(address);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await message(refused)).toContain("SIGNUP_LIMITER");
    expect((await signup(randomAddress())).status).toBe(201);
    await nextWindow();
    expect((await signup(address)).status).toBe(201);
  }, 30_000);

  it("refuse logins past LOGIN_LIMITER from one address, whatever the email, and recover", async () => {
    const account = await signUp();
    const address = randomAddress();
    await nextWindow();
    for (let i = 0; i < 20; i++) expect((await login(account.user.email, PASSWORD, address)).status).toBe(200);
    const refused = await login(account.user.email, PASSWORD, address);
    expect(refused.status).toBe(429);
    expect(await message(refused)).toContain("LOGIN_LIMITER");
    expect((await login(account.user.email, PASSWORD, randomAddress())).status).toBe(200);
    await nextWindow();
    expect((await login(account.user.email, PASSWORD, address)).status).toBe(200);
  }, 30_000);
});

describe("login failures per account, without a lockout", () => {
  it("a stranger failing from many addresses cannot lock the owner out: past the ceiling each address gets one try", async () => {
    const account = await signUp();
    const email = account.user.email;
    // A guesser already spent the ceiling from many addresses this window.
    await env.DB.prepare("INSERT INTO login_failures (email, source, failures, window_start) VALUES (?1, '*', ?2, ?3)")
      .bind(email, LOGIN_ACCOUNT_CEILING, Date.now())
      .run();
    const guesser = randomAddress();
    expect((await login(email, "wrong password 1", guesser)).status).toBe(401);
    const slowed = await login(email, "wrong password 2", guesser);
    expect(slowed.status).toBe(429);
    expect(await message(slowed)).toMatch(/one try/);
    // The owner, from an address that has not failed, logs in.
    expect((await login(email, PASSWORD, randomAddress())).status).toBe(200);
  });

  it("a failing address is refused for that email only until its window ends; the owner's success elsewhere does not clear it", async () => {
    const account = await signUp();
    const email = account.user.email;
    const guesser = randomAddress();
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) expect((await login(email, `nope-${i}-nope`, guesser)).status).toBe(401);
    expect((await login(email, PASSWORD, guesser)).status).toBe(429);
    expect((await login(email, PASSWORD, randomAddress())).status).toBe(200);
    expect((await login(email, PASSWORD, guesser)).status).toBe(429);
    // Once the window has run out, the address may try again.
    await env.DB.prepare("UPDATE login_failures SET window_start = window_start - 3600000 WHERE email = ?").bind(email).run();
    expect((await login(email, PASSWORD, guesser)).status).toBe(200);
  });
});

describe("quotas", () => {
  it("QUOTA_CLUSTERS: a fifth cluster is a 422 naming the quota, nothing is written, and deleting one makes room", async () => {
    const account = await signUp();
    const create = (name: string) => call("/clusters", { method: "POST", token: account.token, json: { name } });
    const ids: string[] = [];
    for (const name of ["two", "three", "four"]) {
      const res = await create(name);
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { cluster: { id: string } }).cluster.id);
    }
    const refused = await create("five");
    expect(refused.status).toBe(422);
    const body = (await refused.json()) as { message: string; quota: { name: string; limit: number } };
    expect(body.message).toContain("QUOTA_CLUSTERS");
    expect(body.quota).toEqual({ name: "QUOTA_CLUSTERS", limit: 4 });
    const owned = await env.DB.prepare("SELECT COUNT(*) AS n FROM clusters WHERE owner_id = ?").bind(account.user.id).first<{ n: number }>();
    expect(owned?.n).toBe(4);
    expect((await call(`/clusters/${ids[0]}`, { method: "DELETE", token: account.token })).status).toBe(204);
    expect((await create("five")).status).toBe(201);
  });

  it("QUOTA_DNS_KEYS and QUOTA_AGENT_TOKENS count live secrets: revoking one makes room", async () => {
    const account = await signUp();
    const base = `/clusters/${account.cluster.id}`;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await call(`${base}/dns-keys`, { method: "POST", token: account.token, json: {} });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const refused = await call(`${base}/dns-keys`, { method: "POST", token: account.token, json: {} });
    expect(refused.status).toBe(422);
    expect(await message(refused)).toContain("QUOTA_DNS_KEYS");
    expect((await call(`${base}/dns-keys/${ids[0]}`, { method: "DELETE", token: account.token })).status).toBe(200);
    expect((await call(`${base}/dns-keys`, { method: "POST", token: account.token, json: {} })).status).toBe(201);
    for (let i = 0; i < 50; i++) await joinToken(account);
    const tokens = await call(`${base}/agent-tokens`, { method: "POST", token: account.token, json: {} });
    expect(tokens.status).toBe(422);
    expect(await message(tokens)).toContain("QUOTA_AGENT_TOKENS");
  });

  it("QUOTA_APPS and QUOTA_INSTANCES: a change past them is a 422 naming the quota and leaves the cluster as it was", async () => {
    const account = await signUp();
    const apps = `/c/${account.cluster.id}/v2/apps`;
    const post = (id: string, instances: number) =>
      call(apps, { method: "POST", token: account.token, json: { id, cmd: "sleep 100", cpus: 0.01, mem: 8, instances } });
    const big = await post("/big", 401);
    expect(big.status).toBe(422);
    const bigBody = (await big.json()) as { message: string; details: { path: string }[] };
    expect(bigBody.message).toContain("QUOTA_INSTANCES");
    expect(bigBody.details.map((d) => d.path)).toContain("/instances");
    expect((await call(`${apps}/big`, { token: account.token })).status).toBe(404);
    for (let i = 0; i < 25; i++) expect((await post(`/a${i}`, 1)).status).toBe(201);
    const refused = await post("/a25", 1);
    expect(refused.status).toBe(422);
    expect(await message(refused)).toContain("QUOTA_APPS");
    // Scaling an app past the instance quota is refused too, and the app keeps its count.
    // (forced: a0's own deployment still holds it, with no agent to place it on)
    const scale = await call(`${apps}/a0?force=true`, { method: "PUT", token: account.token, json: { instances: 400 } });
    expect(scale.status).toBe(422);
    const a0 = (await (await call(`${apps}/a0`, { token: account.token })).json()) as { app: { instances: number } };
    expect(a0.app.instances).toBe(1);
    // Removing an app makes room again.
    expect((await call(`${apps}/a1?force=true`, { method: "DELETE", token: account.token })).status).toBe(200);
    expect((await post("/a25", 1)).status).toBe(201);
  });

  it("QUOTA_AGENTS: a join past the quota is closed (1008) naming it; removing an agent makes room", async () => {
    const account = await signUp();
    const stub = env.CLUSTER.getByName(account.cluster.id);
    const { agentId } = await joinAgent(account);
    // 998 more agents in the registry (written directly: joining a thousand sockets would only make the test slow).
    await runInDurableObject(stub, (_i: Cluster, state) => {
      for (let i = 0; i < 998; i++) {
        state.storage.sql.exec(
          "INSERT INTO agents (id, hostname, ip, resources, attributes, version, credential_hash, state, registered_at) VALUES (?, 'h', '10.0.0.1', '{}', '{}', '0', ?, 'disconnected', 0)",
          `filler-${i}`,
          `hash-${i}`,
        );
      }
    });
    await joinAgent(account, { hostname: "thousandth" });
    const { token } = await joinToken(account);
    const socket = await TestSocket.open(account.cluster.id, token);
    socket.send(registerFrame({ hostname: "one-too-many" }));
    const closed = await socket.waitClosed();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain("QUOTA_AGENTS");
    expect((await call(`/c/${account.cluster.id}/agents/${agentId}`, { method: "DELETE", token: account.token })).status).toBe(204);
    await joinAgent(account, { hostname: "room-again" });
  });

  it("QUOTA_API_TOKENS: a login past the quota revokes the oldest session instead of failing", async () => {
    const account: Account = await signUp();
    for (let i = 0; i < 50; i++) expect((await login(account.user.email, PASSWORD, randomAddress())).status).toBe(200);
    const live = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ?").bind(account.user.id).first<{ n: number }>();
    expect(live?.n).toBe(50);
    // The signup's token was the oldest.
    expect((await call("/auth/me", { token: account.token })).status).toBe(401);
  });
});

describe("event streams", () => {
  it(`serve at most ${MAX_EVENT_SUBSCRIBERS} at once per cluster (429), and take a new one when one closes`, async () => {
    const account = await signUp();
    const open = () => call(`/c/${account.cluster.id}/v2/events`, { token: account.token, headers: { Accept: "text/event-stream" } });
    const streams: Response[] = [];
    for (let i = 0; i < MAX_EVENT_SUBSCRIBERS; i++) {
      const res = await open();
      expect(res.status).toBe(200);
      streams.push(res);
    }
    const refused = await open();
    expect(refused.status).toBe(429);
    expect(await message(refused)).toContain("MAX_EVENT_SUBSCRIBERS");
    await streams[0]?.body?.cancel();
    let again: Response | undefined;
    for (let i = 0; i < 20 && again?.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await open();
    }
    expect(again?.status).toBe(200);
    for (const s of [...streams.slice(1), again]) await s?.body?.cancel();
  });
});

describe("launches per allocation round", () => {
  it("are bounded by the round's cap: the rest wait for the next round, which is due at once", async () => {
    const account = await signUp();
    const stub = env.CLUSTER.getByName(account.cluster.id);
    // Five instances asked for before any agent has joined: nothing is placed yet.
    expect(
      (
        await call(`/c/${account.cluster.id}/v2/apps`, {
          method: "POST",
          token: account.token,
          json: { id: "/many", cmd: "sleep 100", cpus: 0.01, mem: 8, instances: 5 },
        })
      ).status,
    ).toBe(201);
    await runInDurableObject(stub, (instance: Cluster, state) => {
      state.storage.sql.exec(
        "INSERT INTO agents (id, hostname, ip, resources, attributes, version, credential_hash, state, registered_at) VALUES ('cap-agent', 'h', '10.0.0.9', ?, '{}', '0', 'h', 'active', 0)",
        JSON.stringify({ cpus: 8, mem: 8192, disk: 1000, gpus: 0, ports: [[31000, 32000]] }),
      );
      const inside = instance as unknown as { db: FrameworkContext["db"]; events: FrameworkContext["events"]; frameworks: FrameworkRegistry };
      const round = (now: number) =>
        allocationRound({ db: inside.db, events: inside.events, now }, inside.frameworks.all(inside.db), inside.frameworks.offerTimeoutMs, 3);
      const now = Date.now();
      const first = state.storage.transactionSync(() => round(now));
      expect(first.launched).toHaveLength(3);
      expect(first.wakeAt).toBe(now);
      const second = state.storage.transactionSync(() => round(now + 1));
      expect(second.launched).toHaveLength(2);
      expect(second.wakeAt).not.toBe(now + 1);
    });
  });
});
