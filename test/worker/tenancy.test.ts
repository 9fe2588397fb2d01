import { describe, expect, it } from "vitest";
import { call, joinAgent, joinToken, signUp } from "./helpers.ts";

describe("tenant isolation", () => {
  it("answers another account's cluster, agents, tokens and state with 404 and no data", async () => {
    const alice = await signUp();
    const mallory = await signUp();
    const { agentId } = await joinAgent(alice);
    const token = await joinToken(alice);
    const c = alice.cluster.id;
    const paths: [string, string][] = [
      ["GET", `/clusters/${c}`],
      ["GET", `/clusters/${c}/agent-tokens`],
      ["POST", `/clusters/${c}/agent-tokens`],
      ["DELETE", `/clusters/${c}/agent-tokens/${token.id}`],
      ["POST", `/clusters/${c}/dns-keys`],
      ["GET", `/c/${c}/agents`],
      ["GET", `/c/${c}/agents/${agentId}`],
      ["DELETE", `/c/${c}/agents/${agentId}`],
      ["GET", `/c/${c}/master/state`],
      ["GET", `/c/${c}/master/slaves`],
      ["GET", `/c/${c}/metrics/snapshot`],
      ["GET", `/c/${c}/health`],
    ];
    for (const [method, path] of paths) {
      const res = await call(path, { method, token: mallory.token, ...(method === "POST" ? { json: {} } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      const text = await res.text();
      expect(text).not.toContain(agentId);
      expect(text).toContain("does not exist");
    }
    // Nothing was changed by those calls.
    const agents = (await (await call(`/c/${c}/agents`, { token: alice.token })).json()) as { agents: { id: string }[] };
    expect(agents.agents.map((a) => a.id)).toEqual([agentId]);
    const tokens = (await (await call(`/clusters/${c}/agent-tokens`, { token: alice.token })).json()) as { tokens: { id: string; status: string }[] };
    expect(tokens.tokens.find((t) => t.id === token.id)?.status).toBe("active");
  });

  it("answers a cluster that does not exist exactly like one that belongs to someone else", async () => {
    const alice = await signUp();
    const mallory = await signUp();
    const foreign = await call(`/c/${alice.cluster.id}/master/state`, { token: mallory.token });
    const missing = await call(`/c/doesnotexist/master/state`, { token: mallory.token });
    expect(foreign.status).toBe(missing.status);
    const strip = (s: string) => s.replace(alice.cluster.id, "ID").replace("doesnotexist", "ID");
    expect(strip(await foreign.text())).toBe(strip(await missing.text()));
  });

  it("does not let one cluster's join token register an agent in another cluster", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const { token } = await joinToken(alice);
    const res = await call(`/c/${bob.cluster.id}/agent/connect`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(101);
    const ws = res.webSocket as WebSocket;
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
    ws.accept();
    expect((await closed).code).toBe(1008);
  });
});
