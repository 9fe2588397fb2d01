import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TOKEN_CACHE_STALE_MS, TOKEN_CACHE_TTL_MS } from "../../control/accounts/users.ts";
import { call, PASSWORD, signUp } from "./helpers.ts";

/**
 * The per-isolate cache of API tokens and memberships (control/accounts/auth-cache.ts): a
 * change made through this isolate takes effect at once; one made elsewhere (here: straight in
 * D1, as another isolate's write would look from this one) within TOKEN_CACHE_TTL_MS, but for
 * one request answered while it is read again, and none past TOKEN_CACHE_STALE_MS after that.
 * Only `Date` is faked, to step over the bound without waiting for it.
 */
describe("API auth cache", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const apps = (clusterId: string, token: string) => call(`/c/${clusterId}/v2/apps`, { token });
  const stepTo = (ms: number) => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + ms);
  };
  const stepPastBound = () => stepTo(TOKEN_CACHE_TTL_MS + TOKEN_CACHE_STALE_MS + 1);
  /** The status once the reads started behind earlier answers have landed (they run in waitUntil). */
  const settled = async (request: () => Promise<Response>, until: number) => {
    let status = (await request()).status;
    for (let i = 0; i < 50 && status !== until; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = (await request()).status;
    }
    return status;
  };

  it("a token revoked in another isolate is refused once the bound has passed, and until then costs no D1 read", async () => {
    const account = await signUp();
    expect((await apps(account.cluster.id, account.token)).status).toBe(200);
    // Revoked behind this isolate's back: its cached answer still holds, within the bound.
    await env.DB.prepare("DELETE FROM api_tokens WHERE user_id = ?").bind(account.user.id).run();
    expect((await apps(account.cluster.id, account.token)).status).toBe(200);
    stepPastBound();
    expect((await apps(account.cluster.id, account.token)).status).toBe(401);
  });

  it("a token used past half the bound is read again behind its answer: a revocation shows before the bound, with no request waiting on D1", async () => {
    const account = await signUp();
    expect((await apps(account.cluster.id, account.token)).status).toBe(200);
    await env.DB.prepare("DELETE FROM api_tokens WHERE user_id = ?").bind(account.user.id).run();
    stepTo(TOKEN_CACHE_TTL_MS / 2 + 1);
    // Still answered from the cache (within the bound), and the refresh it started reads the revocation.
    expect((await apps(account.cluster.id, account.token)).status).toBe(200);
    expect(await settled(() => apps(account.cluster.id, account.token), 401)).toBe(401);
  });

  it("past the TTL a token answers one more request while it is read again, then the revocation holds", async () => {
    const account = await signUp();
    expect((await apps(account.cluster.id, account.token)).status).toBe(200);
    await env.DB.prepare("DELETE FROM api_tokens WHERE user_id = ?").bind(account.user.id).run();
    stepTo(TOKEN_CACHE_TTL_MS + 1);
    expect((await apps(account.cluster.id, account.token)).status).toBe(200);
    expect(await settled(() => apps(account.cluster.id, account.token), 401)).toBe(401);
  });

  it("a revocation made through this isolate is immediate: logout, session revocation, password change", async () => {
    const account = await signUp();
    expect((await apps(account.cluster.id, account.token)).status).toBe(200);
    expect((await call("/auth/logout", { method: "POST", token: account.token })).status).toBe(204);
    expect((await apps(account.cluster.id, account.token)).status).toBe(401);

    const login = async () =>
      ((await (await call("/auth/login", { method: "POST", json: { email: account.user.email, password: PASSWORD } })).json()) as { token: string }).token;
    const [first, second] = [await login(), await login()];
    expect((await apps(account.cluster.id, second)).status).toBe(200);
    const sessions = ((await (await call("/auth/sessions", { token: first })).json()) as { sessions: { id: string; current: boolean }[] }).sessions;
    const others = sessions.filter((s) => !s.current);
    for (const s of others) expect((await call(`/auth/sessions/${s.id}`, { method: "DELETE", token: first })).status).toBe(204);
    expect((await apps(account.cluster.id, second)).status).toBe(401);

    const third = await login();
    expect((await apps(account.cluster.id, third)).status).toBe(200);
    const change = await call("/auth/password", { method: "POST", token: first, json: { currentPassword: PASSWORD, newPassword: `${PASSWORD} 2` } });
    expect(change.status).toBe(204);
    expect((await apps(account.cluster.id, third)).status).toBe(401);
    expect((await apps(account.cluster.id, first)).status).toBe(200);
  });

  it("a deleted cluster and a deleted account are refused at once; a membership removed elsewhere within the bound", async () => {
    const owner = await signUp();
    const created = await call("/clusters", { method: "POST", token: owner.token, json: { name: "second" } });
    const second = ((await created.json()) as { cluster: { id: string } }).cluster.id;
    expect((await apps(second, owner.token)).status).toBe(200);
    expect((await call(`/clusters/${second}`, { method: "DELETE", token: owner.token })).status).toBe(204);
    expect((await apps(second, owner.token)).status).toBe(404);

    // A membership removed in D1 alone (another isolate's write): refused once the bound passed.
    expect((await apps(owner.cluster.id, owner.token)).status).toBe(200);
    await env.DB.prepare("DELETE FROM memberships WHERE user_id = ? AND cluster_id = ?").bind(owner.user.id, owner.cluster.id).run();
    stepPastBound();
    expect((await apps(owner.cluster.id, owner.token)).status).toBe(404);
    vi.useRealTimers();

    const other = await signUp();
    expect((await apps(other.cluster.id, other.token)).status).toBe(200);
    expect((await call("/auth/account", { method: "DELETE", token: other.token, json: { password: PASSWORD } })).status).toBe(204);
    expect((await apps(other.cluster.id, other.token)).status).toBe(401);
  });
});
