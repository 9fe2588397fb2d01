import { describe, expect, it } from "vitest";
import { TestSocket } from "./helpers.ts";
import { Browser, withAgent } from "./ui-helpers.ts";

/** A form post without the session's CSRF token is refused with a page, and changes nothing. */
async function expectRefused(browser: Browser, path: string, fields: Record<string, string>) {
  const res = await browser.form(path, { ...fields, _csrf: "" });
  expect(res.status, path).toBe(403);
  expect(Browser.text(await res.text())).toContain("does not carry this session's CSRF token");
}

async function json<T>(browser: Browser, path: string): Promise<T> {
  const res = await browser.request(path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

/** The flash a redirect left, read from the page it points to. */
async function flashAfter(browser: Browser, res: Response): Promise<string> {
  expect(res.status).toBe(303);
  const { html } = await browser.page(res.headers.get("Location") ?? "");
  return Browser.text(/<p class="flash[^"]*"[^>]*>[^<]*<\/p>/.exec(html)?.[0] ?? "");
}

interface QueueEntry {
  app: { id: string };
  delay: { timeLeftSeconds: number };
  processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number; processed: number }[] };
}

async function queueEntry(browser: Browser, appId: string): Promise<QueueEntry | undefined> {
  const { queue } = await json<{ queue: QueueEntry[] }>(browser, `/c/${browser.clusterId}/v2/queue`);
  return queue.find((q) => q.app.id === appId);
}

describe("UI: clusters", () => {
  it("create a cluster from the Clusters page, with the name checked by the API's schema, then switch to it", async () => {
    const browser = await new Browser().signUp();
    const first = browser.clusterId;
    const list = await browser.page("/ui");
    expect(list.status).toBe(200);
    expect(list.html).toContain(`href="/ui/${first}"`);

    await expectRefused(browser, "/ui", { name: "staging" });
    const bad = await browser.form("/ui", { name: "Not A Name" });
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toMatch(/<ul class="field-errors" id="field-name-errors"><li>must be lowercase letters, digits and &#39;-&#39;/);
    expect(html).toContain('value="Not A Name"');
    expect(await (await browser.form("/ui", { name: " " })).text()).toContain('id="field-name-errors"><li>is required</li>');
    const clusters = async () => (await json<{ clusters: { id: string; name: string }[] }>(browser, "/clusters")).clusters;
    expect((await clusters()).map((k) => k.name)).toEqual(["default"]);

    const created = await browser.form("/ui", { name: "staging" });
    expect(created.status).toBe(303);
    const location = created.headers.get("Location") ?? "";
    const id = /^\/ui\/([a-z0-9]+)\/tokens$/.exec(location)?.[1] ?? "";
    expect(id).not.toBe(first);
    expect(await clusters()).toEqual([expect.objectContaining({ id: first }), expect.objectContaining({ id, name: "staging" })]);
    const tokens = await browser.page(location);
    expect(Browser.text(tokens.html)).toContain("Created cluster 'staging'");
    // The switcher lists both clusters and marks the current one; each link opens that cluster.
    expect(tokens.html).toContain("<summary>Cluster: staging</summary>");
    expect(tokens.html).toContain(`<a href="/ui/${id}" aria-current="true">staging (${id})</a>`);
    expect(tokens.html).toContain(`<a href="/ui/${first}">default (${first})</a>`);
    const back = await browser.page(`/ui/${first}`);
    expect(back.status).toBe(200);
    expect(back.html).toContain("<summary>Cluster: default</summary>");
  });
});

describe("UI: nodes", () => {
  it("remove a node after its hostname is typed: the agent is disconnected, its credential revoked, the removal audited", async () => {
    const { browser, socket, agentId, credential } = await withAgent();
    const node = `/ui/${browser.clusterId}/nodes/${agentId}`;
    const confirm = Browser.text((await browser.page(`${node}?confirm=remove`)).html);
    expect(confirm).toContain("Remove ui-node-1 from the cluster?");
    expect(confirm).toContain(
      "If its agent is connected, it is disconnected now, and its credential is revoked either way: the agent exits and cannot reconnect. To bring the machine back, delete identity.json in",
    );
    expect(confirm).toContain("It runs no tasks.");

    await expectRefused(browser, node, { op: "remove", confirm: "ui-node-1" });
    // A live page's background refetch (client/live.ts), sent while the browser follows the
    // redirect, leaves the message to the page the redirect points to.
    const refused = await browser.form(node, { op: "remove", confirm: "ui-node-2" });
    const refetch = await browser.request(node, { headers: { Accept: "text/html", "Sec-Fetch-Mode": "cors" } });
    expect(await refetch.text()).not.toContain("Not removed");
    expect(await flashAfter(browser, refused)).toContain("Not removed: type the hostname 'ui-node-1'");
    expect((await browser.request(`/c/${browser.clusterId}/agents/${agentId}`)).status).toBe(200);
    expect(socket.closed).toBeUndefined();

    const removed = await browser.form(node, { op: "remove", confirm: "ui-node-1" });
    expect(removed.headers.get("Location")).toBe(`/ui/${browser.clusterId}/nodes`);
    expect(await flashAfter(browser, removed)).toContain(`Removed ui-node-1 (${agentId}); its credential is revoked.`);
    expect((await socket.waitClosed()).code).toBe(4002);
    expect((await browser.request(`/c/${browser.clusterId}/agents/${agentId}`)).status).toBe(404);
    const again = await TestSocket.open(browser.clusterId, credential);
    expect((await again.waitClosed()).code).toBe(1008);
    // Audited in the cluster's own log, in the removal's transaction.
    const audit = (await (await browser.request(`/clusters/${browser.clusterId}/audit`)).json()) as { entries: { action: string; target: string }[] };
    expect(audit.entries.find((e) => e.target === agentId)?.action).toBe("agent.remove");
    // Removing it again says so on the Nodes page, not with an error page.
    expect(await flashAfter(browser, await browser.form(node, { op: "remove", confirm: "ui-node-1" }))).toContain("does not exist");
  });
});

describe("UI: a service's launch queue", () => {
  it("show the backoff delay after a failed task, and reset it so the app launches again", async () => {
    const { browser, socket } = await withAgent();
    const app = { id: "/flaky", cmd: "exit 1", cpus: 0.1, mem: 16, backoffSeconds: 600, maxLaunchDelaySeconds: 3600 };
    const deployed = await browser.form(`/ui/${browser.clusterId}/deploy`, { json: JSON.stringify(app) });
    const page = deployed.headers.get("Location") ?? "";
    const launch = await socket.nextOfType<{ type: string; tasks: { taskId: string }[] }>("launch");
    const taskId = launch.tasks[0]?.taskId ?? "";
    socket.send({ type: "status", updates: [{ updateId: `ui-${taskId}`, taskId, state: "TASK_FAILED", message: "exit 1", timestamp: Date.now() }] });
    await expect.poll(async () => (await queueEntry(browser, "/flaky"))?.delay.timeLeftSeconds ?? 0).toBeGreaterThan(500);

    const text = Browser.text((await browser.page(page)).html);
    expect(text).toMatch(/Launches are delayed by backoff after failed tasks: the next one in \d{3} s\./);
    expect(text).toContain("Reset delay");

    await expectRefused(browser, page, { op: "reset-delay" });
    expect((await queueEntry(browser, "/flaky"))?.delay.timeLeftSeconds).toBeGreaterThan(500);
    expect(await flashAfter(browser, await browser.form(page, { op: "reset-delay" }))).toContain("Reset the launch delay of /flaky");
    expect((await queueEntry(browser, "/flaky"))?.delay.timeLeftSeconds ?? 0).toBe(0);
    const relaunch = await socket.nextOfType<{ type: string; tasks: { taskId: string }[] }>("launch");
    expect(relaunch.tasks[0]?.taskId).not.toBe(taskId);
    expect(Browser.text((await browser.page(page)).html)).not.toContain("Reset delay");
    // With no delay left, a reset is refused with a message on the page, not an error page.
    expect(await flashAfter(browser, await browser.form(page, { op: "reset-delay" }))).toContain("not found in tasks queue");
  });

  it("list why instances wait, from the queue's reasons for the last offers", async () => {
    const { browser } = await withAgent();
    const app = { id: "/huge", cmd: "sleep 100", cpus: 64, mem: 16 };
    const deployed = await browser.form(`/ui/${browser.clusterId}/deploy`, { json: JSON.stringify(app) });
    await expect.poll(async () => (await queueEntry(browser, "/huge"))?.processedOffersSummary.rejectSummaryLastOffers.length ?? 0).toBeGreaterThan(0);
    const text = Browser.text((await browser.page(deployed.headers.get("Location") ?? "")).html);
    expect(text).toContain("Launch queue: 1 waiting");
    expect(text).toContain("Why instances wait insufficient cpus: 1 of 1 agent");
    expect(text).not.toContain("Reset delay");
  });
});

describe("UI: DNS zone and TTL", () => {
  it("change the zone and TTL with the API's schema: errors under their fields, then the new zone answers", async () => {
    const { browser } = await withAgent();
    const dns = `/ui/${browser.clusterId}/dns`;
    const settings = () => json<{ zone: string; ttl: number }>(browser, `/c/${browser.clusterId}/dns`);
    const shown = await browser.page(dns);
    expect(shown.html).toMatch(/<input id="field-zone" name="zone" type="text" value="mesos"/);
    expect(shown.html).toMatch(/<input id="field-ttl" name="ttl" type="number" value="5"/);

    await expectRefused(browser, dns, { zone: "dcx.internal", ttl: "30" });
    const bad = await browser.form(dns, { zone: "Not A Zone", ttl: "90000" });
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toMatch(/id="field-zone-errors"><li>must be a lowercase DNS name such as mesos or dcx.internal<\/li>/);
    expect(html).toMatch(/id="field-ttl-errors"><li>[^<]*86400[^<]*<\/li>/);
    expect(html).toContain('value="Not A Zone"');
    const words = await browser.form(dns, { zone: "", ttl: "soon" });
    expect(words.status).toBe(422);
    const wordsHtml = await words.text();
    expect(wordsHtml).toContain('id="field-zone-errors"><li>is required</li>');
    expect(wordsHtml).toContain('id="field-ttl-errors"><li>must be a number</li>');
    expect(await settings()).toEqual({ zone: "mesos", ttl: 5, vipRange: "127.11.0.0/16" });

    const saved = await browser.form(dns, { zone: "dcx.internal", ttl: "30" });
    expect(await flashAfter(browser, saved)).toContain("DNS zone is now dcx.internal, TTL 30 s.");
    expect(await settings()).toEqual({ zone: "dcx.internal", ttl: 30, vipRange: "127.11.0.0/16" });
    const text = Browser.text((await browser.page(`${dns}?name=slave.dcx.internal&type=A`)).html);
    expect(text).toContain("under the zone dcx.internal (TTL 30 s)");
    expect(text).toMatch(/slave\.dcx\.internal\.? A 30 10\.1\.2\.3/);
  });
});

describe("UI: editing and deleting a job", () => {
  const JOB = { id: "ops.edit", run: { cmd: "echo one", cpus: 0.1, mem: 32 }, schedules: [{ id: "nightly", cron: "0 3 * * *" }] };

  async function withJob() {
    const browser = await new Browser().signUp();
    const created = await browser.form(`/ui/${browser.clusterId}/deploy-job`, { json: JSON.stringify(JOB) });
    expect(created.status).toBe(303);
    const job = () =>
      json<{ id: string; run: { cmd: string; mem: number }; schedules: { cron: string }[] }>(
        browser,
        `/c/${browser.clusterId}/v1/jobs/ops.edit?embed=schedules`,
      );
    return { browser, editor: `/ui/${browser.clusterId}/deploy-job`, job };
  }

  it("edit a job's definition in the JSON editor: field errors at their lines, then the job changes", async () => {
    const { browser, editor, job } = await withJob();
    const form = await browser.page(`${editor}?edit=ops.edit`);
    expect(form.status).toBe(200);
    const text = /<textarea[^>]*>([^<]*)<\/textarea>/.exec(form.html)?.[1]?.replace(/&quot;/g, '"') ?? "";
    const definition = JSON.parse(text) as typeof JOB & { schedules: Record<string, unknown>[] };
    expect(definition).toMatchObject({ id: "ops.edit", run: { cmd: "echo one" }, schedules: [{ id: "nightly", cron: "0 3 * * *" }] });
    expect(definition.schedules[0]).not.toHaveProperty("nextRunAt");
    expect(form.html).toContain('<input type="hidden" name="edit" value="ops.edit"/>');

    const changed = JSON.stringify(
      { ...definition, run: { ...definition.run, cmd: "echo two", mem: 64 }, schedules: [{ id: "nightly", cron: "0 4 * * *" }] },
      null,
      2,
    );
    await expectRefused(browser, editor, { edit: "ops.edit", json: changed });
    const invalid = await browser.form(editor, { edit: "ops.edit", json: changed.replace('"mem": 64', '"mem": 1') });
    expect(invalid.status).toBe(422);
    const line = changed.split("\n").findIndex((l) => l.includes('"mem": 64')) + 1;
    expect(await invalid.text()).toMatch(new RegExp(`data-line="${line}">Line ${line}</a> <code>/run/mem</code>`));
    const renamed = await browser.form(editor, { edit: "ops.edit", json: changed.replace('"id": "ops.edit"', '"id": "ops.other"') });
    expect(renamed.status).toBe(422);
    expect(Browser.text(await renamed.text())).toContain("differs from the path ('ops.edit')");
    expect((await job()).run.cmd).toBe("echo one");

    const saved = await browser.form(editor, { edit: "ops.edit", json: changed });
    expect(saved.headers.get("Location")).toBe(`/ui/${browser.clusterId}/jobs/ops.edit`);
    expect(await flashAfter(browser, saved)).toContain("Saved the new definition of ops.edit.");
    expect(await job()).toMatchObject({ run: { cmd: "echo two", mem: 64 }, schedules: [{ cron: "0 4 * * *" }] });
    expect((await browser.page(`${editor}?edit=ops.missing`)).status).toBe(404);
  });

  it("delete a job only through its confirmation form", async () => {
    const { browser, job } = await withJob();
    const page = `/ui/${browser.clusterId}/jobs/ops.edit`;
    expect(Browser.text((await browser.page(`${page}?confirm=delete`)).html)).toContain("Delete ops.edit? Its schedule stops");
    await expectRefused(browser, page, { op: "delete" });
    expect((await job()).id).toBe("ops.edit");
    const deleted = await browser.form(page, { op: "delete" });
    expect(deleted.headers.get("Location")).toBe(`/ui/${browser.clusterId}/jobs`);
    expect(await flashAfter(browser, deleted)).toContain("Deleted ops.edit.");
    expect((await browser.request(`/c/${browser.clusterId}/v1/jobs/ops.edit`)).status).toBe(404);
  });
});
