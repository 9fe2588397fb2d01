import { describe, expect, it } from "vitest";
import { call } from "./helpers.ts";
import { Browser, deployRunning, linkedUrls, withAgent } from "./ui-helpers.ts";

describe("UI pages", () => {
  it("render every section with its content, a CSP, and nothing loaded from another host", async () => {
    const { browser } = await withAgent();
    const base = `/ui/${browser.clusterId}`;
    const pages: [string, string][] = [
      ["", "Allocation over time"],
      ["/services", "No services yet"],
      ["/deploy", "App definition (JSON)"],
      ["/nodes", "ui-node-1"],
      ["/jobs", "No jobs yet"],
      ["/deploy-job", "Job definition (JSON)"],
      ["/dns", "web.marathon.mesos"],
      ["/tokens", "rack 1"],
    ];
    for (const [path, content] of pages) {
      const { status, html, res } = await browser.page(`${base}${path}`);
      expect(status, path).toBe(200);
      expect(html, path).toContain(content);
      expect(html.startsWith("<!doctype html>"), path).toBe(true);
      expect(html, path).toContain('<a class="skip-link" href="#main">');
      expect(res.headers.get("Content-Security-Policy"), path).toContain("default-src 'self'");
      for (const url of linkedUrls(html)) expect(url, `${path}: ${url}`).toMatch(/^(\/(?!\/)|#|\?|$)/);
    }
    for (const page of ["/login", "/signup"]) {
      const { html } = await new Browser().page(page);
      for (const url of linkedUrls(html)) expect(url).toMatch(/^(\/(?!\/)|#|\?|$)/);
    }
  });

  it("show the exact command that starts an agent with a new join token", async () => {
    const { browser, command } = await withAgent();
    expect(command).toMatch(
      new RegExp(`^npm run agent -- --master http://dcx.test --cluster ${browser.clusterId} --token dcxj_[A-Za-z0-9_-]{43} --work-dir /var/lib/dcx$`),
    );
  });

  it("deploy through the JSON editor: a syntax error, then field errors at their lines, then the service", async () => {
    const { browser, socket } = await withAgent();
    const deploy = `/ui/${browser.clusterId}/deploy`;
    const broken = await browser.form(deploy, { json: '{\n  "id": "/web",\n  "cpus": 0.1\n  "mem": 16\n}' });
    expect(broken.status).toBe(422);
    expect(Browser.text(await broken.text())).toContain("The JSON does not parse: expected ',' or '}' (a missing comma?) at line 4, column 3");

    const invalid = await browser.form(deploy, { json: '{\n  "id": "/web",\n  "cmd": "sleep 1",\n  "cpus": -1,\n  "instances": "two"\n}' });
    expect(invalid.status).toBe(422);
    const html = await invalid.text();
    expect(html).toMatch(/<a href="#editor" data-line="4">Line 4<\/a> <code>\/cpus<\/code>/);
    expect(html).toMatch(/<a href="#editor" data-line="5">Line 5<\/a> <code>\/instances<\/code>/);
    expect(html).toMatch(/<li id="json-line-4" class="has-error">.*?↑ \/cpus: /s);
    expect(html).toContain("&quot;instances&quot;: &quot;two&quot;");

    const { location, task } = await deployRunning(browser, socket);
    expect(location).toBe(`/ui/${browser.clusterId}/services/web`);
    const page = await browser.page(location);
    expect(page.html).toContain("Deploying /web");
    const text = Browser.text(page.html);
    expect(text).toContain("RUNNING");
    expect(text).toContain(`ui-node-1:${task.ports[0]}`);
    expect(page.html).toContain(`/tasks/${encodeURIComponent(task.taskId)}#logs`);
    const duplicate = await browser.form(deploy, { json: JSON.stringify({ id: "/web", cmd: "sleep 1" }) });
    expect(duplicate.status).toBe(409);
    expect(await duplicate.text()).toContain("already exists");
  });

  it("scale, restart and destroy a service from its page; destroying needs the id typed", async () => {
    const { browser, socket } = await withAgent();
    const { location } = await deployRunning(browser, socket, "/shop/api");
    const appUrl = `/c/${browser.clusterId}/v2/apps/shop/api`;
    const scaled = await browser.form(location, { op: "scale", instances: "3" });
    expect(scaled.status).toBe(303);
    const app = (await (await browser.request(appUrl)).json()) as { app: { instances: number } };
    expect(app.app.instances).toBe(3);
    expect(Browser.text((await browser.page(location)).html)).toContain("Scaling /shop/api to 3");

    const bad = await browser.form(location, { op: "scale", instances: "-1" });
    expect(bad.status).toBe(303);
    expect((await browser.page(location)).html).toContain("Instances must be a whole number");

    const confirm = await browser.page(`${location}?confirm=destroy`);
    expect(confirm.html).toContain("Type /shop/api to confirm");
    await browser.form(location, { op: "destroy", confirm: "/shop/wrong", force: "true" });
    expect((await browser.request(appUrl)).status).toBe(200);
    const destroyed = await browser.form(location, { op: "destroy", confirm: "/shop/api", force: "true" });
    expect(destroyed.headers.get("Location")).toBe(`/ui/${browser.clusterId}/services`);
    expect((await browser.request(appUrl)).status).toBe(404);
  });

  it("show a task's page with its logs viewer pointing at the logs route", async () => {
    const { browser, socket } = await withAgent();
    const { task } = await deployRunning(browser, socket);
    const { status, html } = await browser.page(`/ui/${browser.clusterId}/tasks/${encodeURIComponent(task.taskId)}`);
    expect(status).toBe(200);
    expect(html).toContain(`data-logs-url="/c/${browser.clusterId}/v2/tasks/${encodeURIComponent(task.taskId)}/logs"`);
    expect(Browser.text(html)).toContain("service /web");
  });

  it("resolve a name through the cluster's DoH code path on the DNS page", async () => {
    const { browser } = await withAgent();
    const { html } = await browser.page(`/ui/${browser.clusterId}/dns?name=slave.mesos&type=A`);
    const text = Browser.text(html);
    expect(text).toContain("Answer: NOERROR");
    expect(text).toMatch(/slave\.mesos\.? A \d+ 10\.1\.2\.3/);
    const bad = Browser.text((await browser.page(`/ui/${browser.clusterId}/dns?name=${"x".repeat(70)}.mesos`)).html);
    expect(bad).toContain("The name");
  });

  it("create a DNS key whose DoH URL answers, and revoke it", async () => {
    const browser = await new Browser().signUp();
    const res = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-dns-key", description: "office" });
    const url = /<pre id="doh-url"[^>]*><code>([^<]+)<\/code>/.exec(await res.text())?.[1] ?? "";
    expect(url).toMatch(/^http:\/\/dcx\.test\/dns\/dcxd_[A-Za-z0-9_-]{43}\/dns-query$/);
    const path = new URL(url).pathname;
    expect((await call(`${path}?name=leader.mesos&type=A`)).status).toBe(200);
    const id = /name="id" value="([a-z0-9]+)"/.exec((await browser.page(`/ui/${browser.clusterId}/tokens`)).html)?.[1] ?? "";
    const revoked = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "revoke-dns-key", id });
    expect(revoked.status).toBe(303);
    expect((await call(`${path}?name=leader.mesos&type=A`)).status).toBe(401);
  });

  it("create a job with the editor, run it, and show the run", async () => {
    const browser = await new Browser().signUp();
    const invalid = await browser.form(`/ui/${browser.clusterId}/deploy-job`, {
      json: '{\n  "id": "Bad Id",\n  "run": {"cmd": "true", "cpus": 0.1, "mem": 16}\n}',
    });
    expect(invalid.status).toBe(422);
    expect(await invalid.text()).toMatch(/data-line="2">Line 2<\/a> <code>\/id<\/code>/);
    const created = await browser.form(`/ui/${browser.clusterId}/deploy-job`, {
      json: JSON.stringify({ id: "ops.hello", run: { cmd: "true", cpus: 0.1, mem: 32 } }),
    });
    expect(created.headers.get("Location")).toBe(`/ui/${browser.clusterId}/jobs/ops.hello`);
    const run = await browser.form(`/ui/${browser.clusterId}/jobs/ops.hello`, { op: "run" });
    expect(run.status).toBe(303);
    const text = Browser.text((await browser.page(`/ui/${browser.clusterId}/jobs/ops.hello`)).html);
    expect(text).toMatch(/Started run \S+/);
    expect(text).toContain("STARTING");
  });

  it("answer unknown pages and bad ids with an HTML 404, never a 500", async () => {
    const browser = await new Browser().signUp();
    for (const path of ["/services/Not_An_Id", "/services/missing", "/tasks/nope", "/nodes/nope", "/jobs/Bad..id", "/nope", "/deploy?edit=/missing"]) {
      const { status, html } = await browser.page(`/ui/${browser.clusterId}${path}`);
      expect(status, path).toBe(404);
      expect(html, path).toContain("<!doctype html>");
    }
    const res = await browser.form(`/ui/${browser.clusterId}/services/web`, { op: "scale", instances: "2" });
    expect(res.status).toBe(303);
    const after = await browser.page(res.headers.get("Location") ?? "");
    expect(after.status).toBe(404);
    expect(after.html).toContain("does not exist");
  });
});
