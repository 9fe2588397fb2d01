import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Child, waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { tool } from "./tools.ts";
import { Recorder, agentArgs, launchChromium, photograph, runAgentCommand } from "./ui-browser.ts";

const chromium = tool("chromium", "chromium");
const APP_ID = "/ui-e2e";
const EMAIL = `ui-e2e-${Date.now()}@example.com`;
const PASSWORD = "correct horse battery staple";
/** Prints a marker once, then a tick a second: the logs step looks for both. */
const APP = { id: APP_ID, cmd: "echo started ui-e2e; while true; do echo tick $(date +%s); sleep 1; done", cpus: 0.1, mem: 32, instances: 1 };
const INVALID_APP = `{\n  "id": "${APP_ID}",\n  "cmd": "sleep 100",\n  "cpus": -1,\n  "mem": 32\n}`;

/**
 * The web UI end to end, in headless Chromium: sign up, create an agent token, start a real
 * agent with the command the page shows, deploy an app through the JSON editor (a validation
 * error first), watch its task reach RUNNING live, read its logs, see the overview graph,
 * scale it, destroy it; change the DNS zone, create a second cluster and switch between them,
 * edit a job, remove the agent. Every page is photographed at laptop and phone width into
 * test-artifacts/ui/. The steps run in order and build on each other.
 */
describe.skipIf(chromium.skip)("the web UI in Chromium", () => {
  const cluster = new TestCluster();
  let browser: Browser;
  let page: Page;
  let recorder: Recorder;
  let agent: Child | undefined;
  let base = "";
  let taskId = "";
  const servicePage = () => `${base}/services${APP_ID}`;
  const overflows: Record<string, number> = {};
  const shoot = async (name: string) => {
    overflows[name] = (await photograph(page, name)).overflow;
  };

  beforeAll(async () => {
    chromium.require();
    await cluster.start();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    recorder = new Recorder(context, cluster.url);
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await agent?.stop("SIGTERM", 10_000);
    await cluster.stop();
  });

  it("signs up through the form and lands on the Tokens page with a session", async () => {
    await page.goto(cluster.url);
    expect(new URL(page.url()).pathname).toBe("/login");
    await shoot("login");
    await page.getByRole("link", { name: "Sign up" }).click();
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Sign up" }).click();
    await expect.poll(() => page.locator("#field-password-errors").textContent()).toContain("at least 10 characters");
    await shoot("signup-errors");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(/\/ui\/[a-z0-9]+\/tokens$/);
    cluster.clusterId = /\/ui\/([a-z0-9]+)\//.exec(page.url())?.[1] ?? "";
    base = `${cluster.url}/ui/${cluster.clusterId}`;
    await expect.poll(() => page.locator(".flash-ok").textContent()).toContain("Welcome");
    const cookie = (await page.context().cookies()).find((c) => c.name === "dcx_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
  });

  it("is usable from the keyboard: the first Tab reaches the skip link, which moves focus to the content", async () => {
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
  });

  it("creates an agent token, shows the command, and a real agent started with it joins", async () => {
    await page.getByLabel("Description").first().fill("e2e machine");
    await page.getByRole("button", { name: "Create agent token" }).click();
    const command = (await page.locator("#agent-command").textContent()) ?? "";
    expect(command).toMatch(new RegExp(`^npm run agent -- --master ${cluster.url} --cluster ${cluster.clusterId} --token dcxj_\\S+ --work-dir /var/lib/dcx$`));
    await shoot("tokens-created");
    agent = runAgentCommand(agentArgs(command, join(cluster.dir, "ui-agent")));
    await page.goto(`${base}/nodes`);
    await waitFor(
      `the agent on the Nodes page\n${agent.output()}`,
      async () => ((await page.locator("#nodes-live .badge").first().textContent()) === "active" ? true : (await page.reload(), undefined)),
      60_000,
      500,
    );
    await shoot("nodes");
    await page.locator("#nodes-live tbody a").first().click();
    await expect.poll(() => page.locator("h1").textContent()).not.toBe("Nodes");
    await shoot("node");
  });

  it("shows Marathon's validation errors at their lines, then deploys the app", async () => {
    await page.goto(`${base}/services`);
    await shoot("services-empty");
    await page.getByRole("link", { name: "Deploy a service" }).click();
    await page.getByLabel("App definition (JSON)").fill(INVALID_APP);
    await page.getByRole("button", { name: "Deploy", exact: true }).click();
    const error = page.locator("#editor-errors li").first();
    expect(await error.textContent()).toMatch(/^Line 4 \/cpus: /);
    expect(await page.locator("#json-line-4.has-error .line-error").textContent()).toContain("/cpus");
    await shoot("deploy-errors");
    // The error is a link: from the keyboard it selects the line in the editor.
    await error.getByRole("link").focus();
    await page.keyboard.press("Enter");
    const selected = await page.evaluate(() => {
      const area = document.activeElement as HTMLTextAreaElement;
      return area.value.slice(area.selectionStart, area.selectionEnd);
    });
    expect(selected).toBe('  "cpus": -1,');
    await page.getByLabel("App definition (JSON)").fill(JSON.stringify(APP, null, 2));
    await page.getByRole("button", { name: "Deploy", exact: true }).click();
    await page.waitForURL(servicePage());
    expect(await page.locator(".flash-ok").textContent()).toContain(`Deploying ${APP_ID}`);
  });

  it("watches the task reach RUNNING without a reload", async () => {
    const running = page.locator("#service-tasks .badge", { hasText: "RUNNING" });
    await running.first().waitFor({ timeout: 60_000 });
    expect(await page.locator("#service-tasks td.id").first().textContent()).toMatch(/^[\w.-]+:\d+/);
    taskId = ((await page.locator("#service-tasks tbody th a").first().textContent()) ?? "").trim();
    expect(taskId).not.toBe("");
    await shoot("service");
  });

  it("opens the task's logs and sees its output, followed live", async () => {
    await page.locator("#service-tasks").getByRole("link", { name: "Logs" }).first().click();
    await page.waitForURL(/\/tasks\//);
    const output = page.locator("[data-logs-output]");
    await expect.poll(() => output.textContent(), { timeout: 30_000 }).toContain("started ui-e2e");
    await expect.poll(() => page.locator("[data-logs-status]").textContent()).toContain("Following stdout live");
    const ticks = async () => ((await output.textContent()) ?? "").split("tick ").length;
    const before = await ticks();
    await expect.poll(ticks, { timeout: 15_000 }).toBeGreaterThan(before);
    await shoot("task");
  });

  it("draws the overview graph from the history service", async () => {
    await page.goto(base);
    expect(await page.locator(".cards").textContent()).toContain("1 running");
    // The history service samples once a minute, at the minute's end.
    const points = async () => Number((await page.locator("figure[data-history-url]").getAttribute("data-points")) ?? 0);
    await waitFor("a history sample on the overview", async () => ((await points()) > 0 ? true : (await page.reload(), undefined)), 90_000, 5000);
    expect(await page.locator("figure[data-history-url] canvas").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-graph-summary]").textContent()).toMatch(/^Latest sample \(\d\d:\d\d UTC\): CPU [\d.]+%/);
    await shoot("overview");
  });

  it("scales the service to 2 from its page", async () => {
    await page.goto(servicePage());
    await page.getByLabel("Instances").fill("2");
    await page.getByLabel("Instances").press("Enter");
    await page.waitForURL(servicePage());
    expect(await page.locator(".flash-ok").textContent()).toContain(`Scaling ${APP_ID} to 2`);
    await expect.poll(() => page.locator("#service-tasks .badge", { hasText: "RUNNING" }).count(), { timeout: 60_000 }).toBe(2);
    await shoot("service-scaled");
  });

  it("streams the app's events into its page live, and takes an API change made with the session cookie and CSRF header", async () => {
    await expect.poll(() => page.locator("[data-event-status]").textContent()).toContain("connected");
    const status = await page.evaluate(async (url) => {
      const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
      const res = await fetch(url, { method: "PATCH", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: '{"instances":1}' });
      return res.status;
    }, `/c/${cluster.clusterId}/v2/apps${APP_ID}`);
    expect(status).toBe(200);
    await page.locator("[data-event-log] li", { hasText: "status_update_event" }).first().waitFor({ timeout: 30_000 });
    await expect.poll(() => page.locator("#service-tasks .badge", { hasText: "RUNNING" }).count(), { timeout: 60_000 }).toBe(1);
    await shoot("service-events");
  });

  it("photographs the other pages and resolves a task's name on the DNS page", async () => {
    const pages: [string, string][] = [
      ["services", `${base}/services`],
      ["deploy", `${base}/deploy`],
      ["jobs", `${base}/jobs`],
      ["job-editor", `${base}/deploy-job`],
      ["dns", `${base}/dns?name=ui-e2e.marathon.mesos&type=A`],
      ["tokens", `${base}/tokens`],
    ];
    for (const [name, url] of pages) {
      await page.goto(url);
      await shoot(name);
    }
    expect(await page.locator("body").textContent()).toContain("e2e machine");
    await page.goto(`${base}/dns?name=ui-e2e.marathon.mesos&type=A`);
    expect(await page.locator("#answer-title").textContent()).toBe("Answer: NOERROR");
    expect(await page.locator("#answer tbody tr").count()).toBeGreaterThan(0);
  });

  it("destroys the service after the id is typed to confirm", async () => {
    await page.goto(servicePage());
    await page.getByRole("link", { name: "Destroy…" }).click();
    await shoot("service-destroy");
    await page.getByLabel(`Type ${APP_ID} to confirm`).fill(APP_ID);
    await page.getByRole("button", { name: "Destroy the service" }).click();
    await page.waitForURL(`${base}/services`);
    expect(await page.locator(".flash-ok").textContent()).toContain(`Destroying ${APP_ID}`);
    await expect.poll(async () => (await page.reload(), await page.locator("main").textContent()), { timeout: 30_000 }).toContain("No services yet");
  });

  it("opens a group's folder to see its app, then deletes the group", async () => {
    await page.goto(`${base}/deploy?group=${encodeURIComponent("/e2e")}`);
    await page.getByRole("button", { name: "Deploy", exact: true }).click();
    await page.waitForURL(`${base}/services/e2e/hello`);
    await page.goto(`${base}/services`);
    await page.getByRole("link", { name: "/e2e", exact: true }).click();
    await page.waitForURL(`${base}/services/e2e`);
    expect(await page.getByRole("link", { name: "/e2e/hello" }).count()).toBe(1);
    await shoot("services-group");
    await page.getByRole("link", { name: "Delete group…" }).click();
    await page.getByLabel("Type /e2e to confirm").fill("/e2e");
    await page.getByLabel("Even if a deployment is in progress (force)").check();
    await page.getByRole("button", { name: "Delete the group" }).click();
    await page.waitForURL(`${base}/services`);
    expect(await page.locator(".flash-ok").textContent()).toContain("Deleting group /e2e");
  });

  it("changes the DNS zone on the DNS page: a bad zone is shown under its field, then names answer under the new one", async () => {
    await page.goto(`${base}/dns`);
    await page.getByLabel("Zone", { exact: true }).fill("Not A Zone");
    await page.getByRole("button", { name: "Save zone and TTL" }).click();
    await expect.poll(() => page.locator("#field-zone-errors").textContent()).toContain("must be a lowercase DNS name");
    expect(await page.getByLabel("Zone", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await shoot("dns-zone-error");
    await page.getByLabel("Zone", { exact: true }).fill("dcx.e2e");
    await page.getByLabel("TTL (seconds)").fill("20");
    await page.getByLabel("TTL (seconds)").press("Enter");
    await page.waitForURL(`${base}/dns`);
    expect(await page.locator(".flash-ok").textContent()).toContain("DNS zone is now dcx.e2e, TTL 20 s.");
    await page.getByLabel("Name", { exact: true }).fill("slave.dcx.e2e");
    await page.getByLabel("Name", { exact: true }).press("Enter");
    await expect.poll(() => page.locator("#answer-title").textContent()).toBe("Answer: NOERROR");
    expect(await page.locator("#answer tbody td").nth(2).textContent()).toBe("20");
    await shoot("dns-zone");
  });

  it("shows who changed what on the Audit page, reached from the navigation", async () => {
    await page.goto(base);
    await page.getByRole("link", { name: "Audit", exact: true }).click();
    await page.waitForURL(`${base}/audit`);
    const text = (await page.locator("main").textContent()) ?? "";
    // The deploy, the scale and the destroy of this file's service, the DNS change, the agent token: newest first.
    expect(text).toContain("settings.dns");
    expect(text).toContain("app.delete");
    expect(text).toContain("app.create");
    expect(text).toContain("agent-token.create");
    expect(text.indexOf("settings.dns")).toBeLessThan(text.indexOf("app.create"));
    await shoot("audit");
  });

  it("creates a second cluster from the cluster switcher, lands on its Tokens page, and switches back", async () => {
    await page.goto(base);
    await page.locator(".cluster-switcher summary").click();
    await page.getByRole("link", { name: "All clusters · create a cluster" }).click();
    await page.waitForURL(`${cluster.url}/ui`);
    await page.getByLabel("Name").fill("e2e-second");
    await page.getByRole("button", { name: "Create cluster" }).click();
    await page.waitForURL(/\/ui\/[a-z0-9]+\/tokens$/);
    expect(page.url()).not.toContain(cluster.clusterId);
    expect(await page.locator(".flash-ok").textContent()).toContain("Created cluster 'e2e-second'");
    expect(await page.locator(".cluster-switcher summary").textContent()).toBe("Cluster: e2e-second");
    await page.goto(`${cluster.url}/ui`);
    await shoot("clusters");
    await page.goto(`${base}/tokens`);
    await page.locator(".cluster-switcher summary").click();
    await page.getByRole("link", { name: /^e2e-second / }).click();
    await page.waitForURL(/\/ui\/[a-z0-9]+$/);
    expect(await page.locator(".cluster-switcher summary").textContent()).toBe("Cluster: e2e-second");
    await page.locator(".cluster-switcher summary").click();
    await shoot("cluster-switcher");
    await page.getByRole("link", { name: `default (${cluster.clusterId})` }).click();
    await page.waitForURL(base);
  });

  it("edits a job's definition in the JSON editor", async () => {
    await page.goto(`${base}/deploy-job`);
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.waitForURL(`${base}/jobs/hello.job`);
    await page.getByRole("link", { name: "Edit definition" }).click();
    const editor = page.getByLabel("Job definition (JSON)");
    const text = await editor.inputValue();
    await editor.fill(text.replace(/"mem": \d+/, '"mem": 1'));
    await page.getByRole("button", { name: "Save the change" }).click();
    expect(await page.locator("#editor-errors li").first().textContent()).toMatch(/^Line \d+ \/run\/mem: /);
    await shoot("job-edit-errors");
    await editor.fill(text.replace(/"mem": \d+/, '"mem": 48'));
    await page.getByRole("button", { name: "Save the change" }).click();
    await page.waitForURL(`${base}/jobs/hello.job`);
    expect(await page.locator(".facts").textContent()).toContain("48 MiB");
  });

  it("removes the agent after its hostname is typed: the real agent is disconnected and exits", async () => {
    await page.goto(`${base}/nodes`);
    await page.locator("#nodes-live tbody a").first().click();
    const hostname = ((await page.locator("h1").textContent()) ?? "").trim();
    await page.getByRole("link", { name: "Remove…" }).click();
    expect(await page.locator("#confirm").textContent()).toBe(`Remove ${hostname} from the cluster?`);
    expect(await page.locator("form[aria-label='Confirm removing the node']").textContent()).toContain("its credential is revoked");
    await shoot("node-remove");
    await page.getByLabel(`Type ${hostname} to confirm`).fill(hostname);
    await page.getByRole("button", { name: "Remove the node" }).click();
    await page.waitForURL(`${base}/nodes`);
    expect(await page.locator(".flash-ok").textContent()).toContain(`Removed ${hostname}`);
    expect(await page.locator("main").textContent()).toContain("No nodes yet");
    // The agent is told it was removed and exits with 78 (EX_CONFIG): its credential no longer works.
    const code = await Promise.race([agent?.exited, new Promise((r) => setTimeout(() => r("still running"), 30_000))]);
    expect(code, agent?.output()).toBe(78);
  });

  it("loaded nothing from any other host, no script or style was refused, and no page scrolls sideways at phone width", () => {
    for (const [name, overflow] of Object.entries(overflows)) expect(overflow, `${name} scrolls sideways at phone width`).toBeLessThanOrEqual(0);
    expect(recorder.foreignRequests).toEqual([]);
    expect(recorder.failedAssets).toEqual([]);
    expect(recorder.problems).toEqual([]);
  });
});
