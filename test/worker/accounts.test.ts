import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LOGIN_MAX_FAILURES } from "../../control/accounts/rate-limit.ts";
import { PBKDF2_ITERATIONS, hashPassword, verifyPassword } from "../../control/crypto.ts";
import { PASSWORD, call, expectInvalid, signUp, uniqueEmail } from "./helpers.ts";

describe("signup", () => {
  it("creates a user, a first cluster and a token that works", async () => {
    const email = uniqueEmail("Mixed.Case");
    const account = await signUp(email);
    expect(account.user.email).toBe(email.toLowerCase());
    expect(account.token).toMatch(/^dcxu_[A-Za-z0-9_-]{43}$/);
    expect(account.cluster.name).toBe("default");
    const me = await call("/auth/me", { token: account.token });
    expect(me.status).toBe(200);
    const body = (await me.json()) as { user: { id: string }; clusters: { id: string; role: string }[] };
    expect(body.user.id).toBe(account.user.id);
    expect(body.clusters).toEqual([expect.objectContaining({ id: account.cluster.id, role: "owner" })]);
  });

  it("stores only hashes of passwords and tokens", async () => {
    const account = await signUp();
    const user = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(account.user.id).first<{ password_hash: string }>();
    expect(user?.password_hash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(user?.password_hash).not.toContain(PASSWORD);
    const tokens = await env.DB.prepare("SELECT token_hash FROM api_tokens WHERE user_id = ?").bind(account.user.id).all<{ token_hash: string }>();
    expect(tokens.results.map((t) => t.token_hash)).not.toContain(account.token);
    expect(tokens.results[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses a second account for the same email, in any case, with 409", async () => {
    const email = uniqueEmail();
    await signUp(email);
    const res = await call("/auth/signup", { method: "POST", json: { email: email.toUpperCase(), password: PASSWORD } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toContain("already exists");
  });

  it.each([
    [{ email: "not-an-email", password: PASSWORD }, "/email"],
    [{ email: uniqueEmail(), password: "short" }, "/password"],
    [{ email: uniqueEmail(), password: "aaaaaaaaaaaaaaa" }, "/password"],
    [{ password: PASSWORD }, "/email"],
    [{ email: uniqueEmail(), password: PASSWORD, admin: true }, "/"],
  ])("rejects %j with 422 naming %s, storing nothing", async (body, path) => {
    const before = await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<{ n: number }>();
    await expectInvalid(await call("/auth/signup", { method: "POST", json: body }), path);
    const after = await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("answers malformed JSON with 400, a wrong content type with 415, an oversize body with 413", async () => {
    const malformed = await call("/auth/signup", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"email": ' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toMatch(/malformed json/i);
    const wrongType = await call("/auth/signup", { method: "POST", headers: { "Content-Type": "text/plain" }, body: "email=a" });
    expect(wrongType.status).toBe(415);
    expect(((await wrongType.json()) as { message: string }).message).toContain("text/plain");
    const big = JSON.stringify({ email: uniqueEmail(), password: "x".repeat(2 * 1024 * 1024) });
    const oversize = await call("/auth/signup", { method: "POST", headers: { "Content-Type": "application/json" }, body: big });
    expect(oversize.status).toBe(413);
  });
});

describe("login and logout", () => {
  it("logs in with the right password and issues a new token", async () => {
    const account = await signUp();
    const res = await call("/auth/login", { method: "POST", json: { email: account.user.email, password: PASSWORD } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: { id: string }; token: string };
    expect(body.user.id).toBe(account.user.id);
    expect(body.token).not.toBe(account.token);
    expect((await call("/auth/me", { token: body.token })).status).toBe(200);
  });

  it("answers a wrong password and an unknown email alike, with 401", async () => {
    const account = await signUp();
    const wrong = await call("/auth/login", { method: "POST", json: { email: account.user.email, password: "wrong password!" } });
    const unknown = await call("/auth/login", { method: "POST", json: { email: uniqueEmail(), password: PASSWORD } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
  });

  it("refuses an address that keeps failing for one email with 429 and Retry-After, even with the right password, and only that address", async () => {
    const account = await signUp();
    const attacker = { "CF-Connecting-IP": "203.0.113.7" };
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) {
      const res = await call("/auth/login", { method: "POST", headers: attacker, json: { email: account.user.email, password: `wrong-${i}-password` } });
      expect(res.status).toBe(401);
    }
    const limited = await call("/auth/login", { method: "POST", headers: attacker, json: { email: account.user.email, password: PASSWORD } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    // The owner, at their own address, is not locked out by the stranger's failures.
    const owner = await call("/auth/login", {
      method: "POST",
      headers: { "CF-Connecting-IP": "198.51.100.20" },
      json: { email: account.user.email, password: PASSWORD },
    });
    expect(owner.status).toBe(200);
    // Another email is not affected, even from the attacker's address.
    const other = await signUp();
    expect((await call("/auth/login", { method: "POST", headers: attacker, json: { email: other.user.email, password: PASSWORD } })).status).toBe(200);
  });

  it("logout revokes the token it was called with", async () => {
    const account = await signUp();
    expect((await call("/auth/logout", { method: "POST", token: account.token })).status).toBe(204);
    const after = await call("/auth/me", { token: account.token });
    expect(after.status).toBe(401);
  });
});

describe("authentication", () => {
  it("accepts the DC/OS form 'Authorization: token=...'", async () => {
    const account = await signUp();
    const res = await call("/auth/me", { headers: { Authorization: `token=${account.token}` } });
    expect(res.status).toBe(200);
  });

  it.each([undefined, "Bearer", "Bearer dcxu_nope", "Basic Zm9vOmJhcg=="])("answers Authorization %j with 401 and WWW-Authenticate", async (header) => {
    const res = await call("/clusters", header ? { headers: { Authorization: header } } : {});
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    expect(((await res.json()) as { message: string }).message).toBeTruthy();
  });

  it("unknown routes are a JSON 404", async () => {
    const res = await call("/no/such/route");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { message: string }).message).toContain("/no/such/route");
  });
});

describe("clusters", () => {
  it("lists, creates and gets clusters", async () => {
    const account = await signUp();
    const created = await call("/clusters", { method: "POST", token: account.token, json: { name: "staging" } });
    expect(created.status).toBe(201);
    const { cluster } = (await created.json()) as { cluster: { id: string; name: string; role: string } };
    expect(cluster).toMatchObject({ name: "staging", role: "owner" });
    const list = (await (await call("/clusters", { token: account.token })).json()) as { clusters: { id: string }[] };
    expect(list.clusters.map((c) => c.id)).toEqual([account.cluster.id, cluster.id]);
    const one = await call(`/clusters/${cluster.id}`, { token: account.token });
    expect(((await one.json()) as { cluster: { name: string } }).cluster.name).toBe("staging");
  });

  it.each(["", "UPPER", "-dash", "has space", "x".repeat(64)])("refuses cluster name %j with 422 on /name", async (name) => {
    const account = await signUp();
    await expectInvalid(await call("/clusters", { method: "POST", token: account.token, json: { name } }), "/name");
  });
});

describe("password hashing", () => {
  it("stays within the Workers PBKDF2 limit and verifies with the stored count", async () => {
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    const stored = await hashPassword("hunter2-hunter2", 1000);
    expect(stored).toMatch(/^pbkdf2-sha256\$1000\$/);
    expect(await verifyPassword("hunter2-hunter2", stored)).toBe(true);
    expect(await verifyPassword("hunter3-hunter3", stored)).toBe(false);
    expect(await verifyPassword("x", "garbage")).toBe(false);
  });
});
