import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";
import { Browser } from "./ui-helpers.ts";

interface Entry {
  id: string;
  at: string;
  source: "cluster" | "account";
  actor: { userId: string | null; tokenId: string | null };
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}
interface Page {
  entries: Entry[];
  next: string | null;
}

const auditOf = async (a: Account, query = "") => (await (await call(`/clusters/${a.cluster.id}/audit${query}`, { token: a.token })).json()) as Page;

/** The rows of the cluster object's own audit table. */
const objectRows = (a: Account) =>
  runInDurableObject(env.CLUSTER.getByName(a.cluster.id), (_i: Cluster, state) =>
    state.storage.sql.exec<{ action: string; target: string }>("SELECT action, target FROM audit ORDER BY id").toArray(),
  );

const app = (id: string, instances = 1) => ({ id, cmd: "sleep 100", cpus: 0.01, mem: 8, instances });

describe("the cluster's audit log", () => {
  it("records every change through the API, with who made it (user and session), in the cluster object", async () => {
    const a = await signUp();
    const base = `/c/${a.cluster.id}`;
    const sessionId = ((await (await call("/auth/sessions", { token: a.token })).json()) as { sessions: { id: string }[] }).sessions[0]?.id;
    expect((await call(`${base}/v2/apps`, { method: "POST", token: a.token, json: app("/web") })).status).toBe(201);
    expect(
      (await call(`${base}/v2/apps/web?force=true`, { method: "PUT", token: a.token, json: { cmd: "sleep 200", cpus: 0.01, mem: 8, instances: 2 } })).status,
    ).toBe(200);
    expect((await call(`${base}/v1/jobs`, { method: "POST", token: a.token, json: { id: "nightly", run: { cmd: "true", cpus: 0.1, mem: 32 } } })).status).toBe(
      201,
    );
    expect((await call(`${base}/dns`, { method: "PATCH", token: a.token, json: { ttl: 30 } })).status).toBe(200);
    const { agentId, socket } = await joinAgent(a);
    socket.ws.close();
    expect((await call(`${base}/agents/${agentId}`, { method: "DELETE", token: a.token })).status).toBe(204);
    expect((await call(`${base}/v2/apps/web?force=true`, { method: "DELETE", token: a.token })).status).toBe(200);
    const { entries } = await auditOf(a);
    const cluster = entries.filter((e) => e.source === "cluster").map((e) => [e.action, e.target]);
    expect(cluster).toEqual([
      ["app.delete", "/web"],
      ["agent.remove", agentId],
      ["settings.dns", null],
      ["job.create", "nightly"],
      ["app.update", "/web"],
      ["app.create", "/web"],
    ]);
    expect(entries.filter((e) => e.source === "cluster").every((e) => e.actor.userId === a.user.id && e.actor.tokenId === sessionId)).toBe(true);
    // Account-level rows (the join token of the agent) are merged in, newest first.
    expect(entries.some((e) => e.source === "account" && e.action === "agent-token.create")).toBe(true);
    const times = entries.map((e) => Date.parse(e.at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
  });

  it("writes no row for a change that fails or is rolled back: a conflict, a quota refusal, an unknown agent", async () => {
    const a = await signUp();
    const base = `/c/${a.cluster.id}`;
    expect((await call(`${base}/v2/apps`, { method: "POST", token: a.token, json: app("/one") })).status).toBe(201);
    const before = await objectRows(a);
    expect((await call(`${base}/v2/apps`, { method: "POST", token: a.token, json: app("/one") })).status).toBe(409);
    expect((await call(`${base}/v2/apps`, { method: "POST", token: a.token, json: app("/huge", 10_000) })).status).toBe(422);
    expect((await call(`${base}/agents/nope`, { method: "DELETE", token: a.token })).status).toBe(404);
    expect((await call(`${base}/v2/apps/missing`, { method: "DELETE", token: a.token })).status).toBe(404);
    expect(await objectRows(a)).toEqual(before);
    // And nothing of the refused changes was stored either.
    expect((await call(`${base}/v2/apps/huge`, { token: a.token })).status).toBe(404);
  });

  it("records changes made in the UI with the browser session as the actor", async () => {
    const browser = await new Browser().signUp();
    const res = await browser.form(`/ui/${browser.clusterId}/deploy`, { json: JSON.stringify(app("/from-ui")) });
    expect(res.status).toBe(303);
    const rows = await runInDurableObject(env.CLUSTER.getByName(browser.clusterId), (_i: Cluster, state) =>
      state.storage.sql
        .exec<{ action: string; target: string; user_id: string; token_id: string }>("SELECT action, target, user_id, token_id FROM audit")
        .toArray(),
    );
    expect(rows).toEqual([expect.objectContaining({ action: "app.create", target: "/from-ui" })]);
    expect(rows[0]?.token_id).toMatch(/^[a-z0-9]{12}$/);
    // The UI's Audit page shows it, with the account-level rows (the cluster's creation at signup has none; a DNS key has).
    await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-dns-key", description: "resolver" });
    const page = await browser.page(`/ui/${browser.clusterId}/audit`);
    expect(page.status).toBe(200);
    const text = Browser.text(page.html);
    expect(text).toContain("app.create");
    expect(text).toContain("/from-ui");
    expect(text).toContain("dns-key.create");
    expect(page.html.indexOf("dns-key.create")).toBeLessThan(page.html.indexOf("app.create"));
    expect(page.html).toContain(`href="/ui/${browser.clusterId}/audit"`);
    const bad = await browser.page(`/ui/${browser.clusterId}/audit?before=junk`);
    expect(Browser.text(bad.html)).toContain("not valid");
  });

  it("pages the merged log without repeating or skipping an entry", async () => {
    const a = await signUp();
    const base = `/c/${a.cluster.id}`;
    for (let i = 0; i < 7; i++) {
      await call(`${base}/v2/apps`, { method: "POST", token: a.token, json: app(`/p${i}`, 0) });
      await call(`/clusters/${a.cluster.id}/dns-keys`, { method: "POST", token: a.token, json: {} });
    }
    const all = (await auditOf(a, "?limit=200")).entries.map((e) => e.id);
    expect(all.length).toBeGreaterThanOrEqual(14);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await auditOf(a, `?limit=3${cursor ? `&before=${cursor}` : ""}`);
      paged.push(...page.entries.map((e) => e.id));
      cursor = page.next;
    } while (cursor);
    expect(paged).toEqual(all);
  });
});
