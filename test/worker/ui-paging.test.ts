import { describe, expect, it } from "vitest";
import { registerFrame, TestSocket } from "./helpers.ts";
import { Browser } from "./ui-helpers.ts";

/** A signed-up browser and a join token made on the Tokens page (join tokens may be used by many agents). */
async function withJoinToken() {
  const browser = await new Browser().signUp();
  const created = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-agent-token", description: "bulk", expiresInSeconds: "3600" });
  const token = /--token (dcxj_[A-Za-z0-9_-]+)/.exec(await created.text())?.[1] ?? "";
  expect(token).not.toBe("");
  return { browser, token };
}

/** Registers `n` agents named `bench-node-000`…, in parallel batches; returns their sockets. */
async function joinMany(clusterId: string, token: string, n: number, resources?: Record<string, unknown>): Promise<TestSocket[]> {
  const sockets: TestSocket[] = [];
  for (let start = 0; start < n; start += 50) {
    const batch = Array.from({ length: Math.min(50, n - start) }, async (_, i) => {
      const socket = await TestSocket.open(clusterId, token);
      const k = String(start + i).padStart(3, "0");
      socket.send(
        registerFrame({ hostname: `bench-node-${k}`, ip: `10.9.${Math.floor((start + i) / 250)}.${(start + i) % 250}`, ...(resources ? { resources } : {}) }),
      );
      expect((await socket.next<{ type: string }>()).type).toBe("registered");
      return socket;
    });
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

/** The hostnames the Nodes table shows, in order. */
const hostnames = (html: string) => [...html.matchAll(/>(bench-node-\d{3})<\/a>/g)].map((m) => m[1] ?? "");
/** The ids of the task rows a table shows. */
const taskIds = (html: string) => [...html.matchAll(/<th scope="row" class="id"><a href="[^"]*\/tasks\/([^"#]+)">/g)].map((m) => m[1] ?? "");
/** The pager's Previous/Next links, unescaped. */
const pagerLink = (html: string, rel: "prev" | "next") => new RegExp(`rel="${rel}" href="([^"]*)"`).exec(html)?.[1]?.replaceAll("&amp;", "&");

describe("UI: paged tables", () => {
  it("page the Nodes list: 100 rows a page, the count, the last page, links that keep the filter", async () => {
    const { browser, token } = await withJoinToken();
    await joinMany(browser.clusterId, token, 250);
    const nodes = `/ui/${browser.clusterId}/nodes`;

    const first = await browser.page(nodes);
    expect(first.status).toBe(200);
    expect(hostnames(first.html)).toHaveLength(100);
    expect(Browser.text(first.html)).toContain("Showing 1–100 of 250 (page 1 of 3)");
    expect(first.html).not.toContain('rel="prev"');
    expect(pagerLink(first.html, "next")).toBe(`${nodes}?page=2`);

    const third = await browser.page(`${nodes}?page=3`);
    expect(hostnames(third.html)).toHaveLength(50);
    expect(Browser.text(third.html)).toContain("Showing 201–250 of 250");
    expect(third.html).not.toContain('rel="next"');
    const second = await browser.page(`${nodes}?page=2`);
    // Every node is on exactly one page, and a reload shows the same page.
    expect(new Set([...hostnames(first.html), ...hostnames(second.html), ...hostnames(third.html)]).size).toBe(250);
    expect(hostnames((await browser.page(`${nodes}?page=2`)).html)).toEqual(hostnames(second.html));

    const all = await browser.page(`${nodes}?limit=500`);
    expect(hostnames(all.html)).toHaveLength(250);

    const filtered = await browser.page(`${nodes}?q=NODE-01&limit=4&page=2`);
    expect(Browser.text(filtered.html)).toContain("Showing 5–8 of 10");
    expect(hostnames(filtered.html).every((h) => h.startsWith("bench-node-01"))).toBe(true);
    expect(pagerLink(filtered.html, "next")).toBe(`${nodes}?q=NODE-01&limit=4&page=3`);
    expect(pagerLink(filtered.html, "prev")).toBe(`${nodes}?q=NODE-01&limit=4`);
    expect(filtered.html).toMatch(/<input id="filter-q" type="search" name="q" value="NODE-01"/);
    expect(filtered.html).toContain('<input type="hidden" name="limit" value="4"/>');
    expect(Browser.text((await browser.page(`${nodes}?q=no-such-host`)).html)).toContain("No node matches the filter.");
    // 250 joins, each written to D1 before its credential goes out: more than the default 5 s on a loaded machine.
  }, 20_000);

  it("answer bad page and limit values with the nearest page and a note, never an error", async () => {
    const { browser, token } = await withJoinToken();
    await joinMany(browser.clusterId, token, 3);
    const nodes = `/ui/${browser.clusterId}/nodes`;
    const cases: [string, string, number][] = [
      ["?page=-1", "Page -1 does not exist; showing page 1.", 3],
      ["?page=abc", "Page 'abc' is not a whole number.", 3],
      ["?page=99999999999999999999999", "is not a whole number.", 3],
      ["?page=7&limit=2", "Page 7 is past the end; showing page 2 of 2.", 1],
      ["?limit=100000", "Page size 100000 is above the maximum; showing 500 per page.", 3],
      ["?limit=0", "Page size 0 is too small; showing 1 per page.", 1],
      ["?limit=%00%FF", "is not a whole number.", 3],
    ];
    for (const [query, note, rows] of cases) {
      const { status, html } = await browser.page(`${nodes}${query}`);
      expect(status, query).toBe(200);
      expect(Browser.text(html), query).toContain(note);
      expect(hostnames(html), query).toHaveLength(rows);
    }
  });

  it("page a service's tasks and a node's tasks, in a stable order, with a task id filter", async () => {
    const { browser, token } = await withJoinToken();
    const [socket] = await joinMany(browser.clusterId, token, 1, { cpus: 64, mem: 65_536, disk: 100_000, gpus: 0, ports: [[31000, 32000]] });
    const json = JSON.stringify({ id: "/many", cmd: "sleep 1000", cpus: 0.1, mem: 16, instances: 130, portDefinitions: [] });
    expect((await browser.form(`/ui/${browser.clusterId}/deploy`, { json })).status).toBe(303);
    // Launched tasks are listed while staging: wait until all 130 are placed.
    for (let i = 0; i < 100; i++) {
      const app = (await (await browser.request(`/c/${browser.clusterId}/v2/apps/many`)).json()) as { app: { tasksStaged: number; tasksRunning: number } };
      if (app.app.tasksStaged + app.app.tasksRunning >= 130) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const service = `/ui/${browser.clusterId}/services/many`;
    const page1 = await browser.page(service);
    const page2 = await browser.page(`${service}?page=2`);
    expect(taskIds(page1.html)).toHaveLength(100);
    expect(taskIds(page2.html)).toHaveLength(30);
    expect(Browser.text(page2.html)).toContain("Showing 101–130 of 130");
    const ids = [...taskIds(page1.html), ...taskIds(page2.html)];
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(130);

    const one = decodeURIComponent(ids[42] ?? "");
    const found = await browser.page(`${service}?q=${encodeURIComponent(one)}`);
    expect(taskIds(found.html).map(decodeURIComponent)).toEqual([one]);

    const nodes = await browser.page(`/ui/${browser.clusterId}/nodes`);
    const agentId = /href="\/ui\/[^/]+\/nodes\/([^"]+)"/.exec(nodes.html)?.[1] ?? "";
    // The Nodes list counts each node's live tasks (from the usage query, without listing them).
    expect(/<td class="num">(\d+)<\/td>/.exec(nodes.html)?.[1]).toBe("130");
    const node = await browser.page(`/ui/${browser.clusterId}/nodes/${agentId}?limit=50&page=3`);
    expect(node.status).toBe(200);
    expect(taskIds(node.html)).toEqual(ids.slice(100, 130));
    expect(Browser.text(node.html)).toContain("Showing 101–130 of 130");
    socket?.ws.close();
  });

  it("page the Services list over folders and apps together", async () => {
    const browser = await new Browser().signUp();
    for (const id of ["/b/y", "/a/x", "/solo", "/c/z"]) {
      const res = await browser.form(`/ui/${browser.clusterId}/deploy`, { json: JSON.stringify({ id, cmd: "sleep 1", cpus: 0.1, mem: 16, instances: 0 }) });
      expect(res.status, id).toBe(303);
    }
    const services = `/ui/${browser.clusterId}/services`;
    const rows = (html: string) => [...html.matchAll(/<th scope="row"><a (?:class="folder" )?href="[^"]*">([^<]+)<\/a>/g)].map((m) => m[1] ?? "");
    expect(rows((await browser.page(`${services}?limit=2`)).html)).toEqual(["/a", "/b"]);
    const last = await browser.page(`${services}?limit=2&page=2`);
    expect(rows(last.html)).toEqual(["/c", "/solo"]);
    expect(Browser.text(last.html)).toContain("Showing 3–4 of 4");
  });
});
