import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TestSocket, call, expectInvalid, joinToken, registerFrame, signUp } from "./helpers.ts";

describe("agent join tokens", () => {
  it("shows the token once and lists only metadata", async () => {
    const account = await signUp();
    const created = await joinToken(account, { description: "rack 1", expiresInSeconds: 3600 });
    expect(created.token).toMatch(/^dcxj_/);
    const list = (await (await call(`/clusters/${account.cluster.id}/agent-tokens`, { token: account.token })).json()) as {
      tokens: Record<string, unknown>[];
    };
    expect(list.tokens).toHaveLength(1);
    expect(list.tokens[0]).toMatchObject({ id: created.id, description: "rack 1", status: "active" });
    expect(JSON.stringify(list)).not.toContain(created.token);
    expect(typeof list.tokens[0]?.expiresAt).toBe("string");
  });

  it.each([
    [{ expiresInSeconds: -5 }, "/expiresInSeconds"],
    [{ expiresInSeconds: "soon" }, "/expiresInSeconds"],
    [{ description: 42 }, "/description"],
    [{ secret: "mine" }, "/"],
  ])("refuses %j with 422 naming %s", async (body, path) => {
    const account = await signUp();
    await expectInvalid(await call(`/clusters/${account.cluster.id}/agent-tokens`, { method: "POST", token: account.token, json: body }), path);
  });

  it("a revoked join token registers no new agent", async () => {
    const account = await signUp();
    const { id, token } = await joinToken(account);
    const revoked = await call(`/clusters/${account.cluster.id}/agent-tokens/${id}`, { method: "DELETE", token: account.token });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { token: { status: string } }).token.status).toBe("revoked");
    const socket = await TestSocket.open(account.cluster.id, token);
    const closed = await socket.waitClosed();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/join token/);
    const agents = (await (await call(`/c/${account.cluster.id}/agents`, { token: account.token })).json()) as { agents: unknown[] };
    expect(agents.agents).toEqual([]);
  });

  it("revoking closes sessions admitted with the token that have not registered yet", async () => {
    const account = await signUp();
    const { id, token } = await joinToken(account);
    const socket = await TestSocket.open(account.cluster.id, token);
    await call(`/clusters/${account.cluster.id}/agent-tokens/${id}`, { method: "DELETE", token: account.token });
    expect((await socket.waitClosed()).code).toBe(1008);
  });

  it("an expired join token registers no new agent", async () => {
    const account = await signUp();
    const { id, token } = await joinToken(account, { expiresInSeconds: 60 });
    await env.DB.prepare("UPDATE cluster_secrets SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
    const socket = await TestSocket.open(account.cluster.id, token);
    expect((await socket.waitClosed()).code).toBe(1008);
  });

  it("revoking an unknown token is a 404", async () => {
    const account = await signUp();
    const res = await call(`/clusters/${account.cluster.id}/agent-tokens/nope`, { method: "DELETE", token: account.token });
    expect(res.status).toBe(404);
  });

  it("a join token still works for a second machine until revoked", async () => {
    const account = await signUp();
    const { token } = await joinToken(account);
    const ids: string[] = [];
    for (const hostname of ["a", "b"]) {
      const socket = await TestSocket.open(account.cluster.id, token);
      socket.send(registerFrame({ hostname }));
      ids.push(((await socket.next()) as { agentId: string }).agentId);
    }
    expect(new Set(ids).size).toBe(2);
  });
});

describe("DNS keys", () => {
  it("creates a key with its DoH URL, lists it without the key, and revokes it", async () => {
    const account = await signUp();
    const res = await call(`/clusters/${account.cluster.id}/dns-keys`, { method: "POST", token: account.token, json: { description: "laptop" } });
    expect(res.status).toBe(201);
    const key = (await res.json()) as { id: string; key: string; url: string };
    expect(key.key).toMatch(/^dcxd_/);
    expect(key.url).toBe(`http://dcx.test/dns/${key.key}/dns-query`);
    const list = await (await call(`/clusters/${account.cluster.id}/dns-keys`, { token: account.token })).text();
    expect(list).toContain(key.id);
    expect(list).not.toContain(key.key);
    const del = await call(`/clusters/${account.cluster.id}/dns-keys/${key.id}`, { method: "DELETE", token: account.token });
    expect(((await del.json()) as { key: { status: string } }).key.status).toBe("revoked");
  });
});
