import { describe, expect, it } from "vitest";
import { Browser, deployRunning, withAgent } from "./ui-helpers.ts";

/** Deploys through the JSON editor; without a fitting agent the app's deployment stays in progress. */
async function deploy(browser: Browser, id: string, instances: number, cpus = 0.1) {
  const res = await browser.form(`/ui/${browser.clusterId}/deploy`, { json: JSON.stringify({ id, cmd: "sleep 1000", cpus, mem: 16, instances }) });
  expect(res.status, id).toBe(303);
}

async function appStatus(browser: Browser, id: string): Promise<number> {
  return (await browser.request(`/c/${browser.clusterId}/v2/apps${id}`)).status;
}

/** The flash a redirect left, read from the page it points to. */
async function flashAfter(browser: Browser, res: Response): Promise<string> {
  expect(res.status).toBe(303);
  const { html } = await browser.page(res.headers.get("Location") ?? "");
  return Browser.text(/<p class="flash[^"]*"[^>]*>[^<]*<\/p>/.exec(html)?.[0] ?? "");
}

/** The table row whose heading links to `href`, as text. */
function rowText(html: string, href: string): string {
  const row = [...html.matchAll(/<tr[^>]*>.*?<\/tr>/gs)].find((m) => m[0].includes(`href="${href}"`));
  return Browser.text(row?.[0] ?? "");
}

/** The breadcrumb trail of a page, as text. */
function crumbs(html: string): string {
  return Browser.text(/<nav class="breadcrumbs"[^>]*>.*?<\/nav>/s.exec(html)?.[0] ?? "").trim();
}

describe("UI: groups on the Services pages", () => {
  it("show subgroups as folders with their apps counted and summed, and open a folder", async () => {
    const { browser, socket } = await withAgent();
    const base = `/ui/${browser.clusterId}/services`;
    await deployRunning(browser, socket, "/prod/web");
    // 100 CPUs fit no agent: its deployment stays in progress with nothing running.
    await deploy(browser, "/prod/api/v1", 2, 100);
    await deploy(browser, "/production/db", 0);
    await deploy(browser, "/solo", 0);

    const root = await browser.page(base);
    expect(root.status).toBe(200);
    expect(rowText(root.html, `${base}/prod`)).toMatch(/\/prod Group of 2 apps 1 Deploying 1 Running 1\/3 – /);
    expect(rowText(root.html, `${base}/production`)).toContain("Group of 1 app");
    expect(rowText(root.html, `${base}/production`)).toContain("0/0");
    expect(rowText(root.html, `${base}/solo`)).toContain("/solo");
    // Apps inside groups are behind their folders, not on the root.
    expect(root.html).not.toContain(`href="${base}/prod/web"`);
    // Folders come before apps.
    expect(root.html.indexOf(`href="${base}/production"`)).toBeLessThan(root.html.indexOf(`href="${base}/solo"`));

    const prod = await browser.page(`${base}/prod`);
    expect(prod.status).toBe(200);
    expect(crumbs(prod.html)).toBe("Services prod");
    expect(prod.html).toContain(`<a href="${base}">Services</a>`);
    expect(prod.html).toContain('<span aria-current="page">prod</span>');
    expect(rowText(prod.html, `${base}/prod/api`)).toMatch(/Group of 1 app 1 Deploying 0\/2/);
    expect(rowText(prod.html, `${base}/prod/web`)).toMatch(/\/prod\/web (Open service )?Running 1\/1/);
    expect(prod.html).not.toContain("/production");
    expect(Browser.text(prod.html)).toMatch(/Services inside 2 Instances 1\/3 running/);

    const deployInto = `/ui/${browser.clusterId}/deploy?group=${encodeURIComponent("/prod")}`;
    expect(prod.html).toContain(`href="${deployInto.replace(/&/g, "&amp;")}"`);
    expect((await browser.page(deployInto)).html).toContain("&quot;id&quot;: &quot;/prod/hello&quot;");
  });

  it("dispatch a path to the app, else the group, else a 404; breadcrumbs link each step", async () => {
    const browser = await new Browser().signUp();
    const base = `/ui/${browser.clusterId}/services`;
    await deploy(browser, "/prod/web/api", 0);

    const app = await browser.page(`${base}/prod/web/api`);
    expect(app.status).toBe(200);
    expect(app.html).toContain('id="service-tasks"');
    expect(crumbs(app.html)).toBe("Services prod web api");
    expect(app.html).toContain(`<a href="${base}/prod">prod</a>`);
    expect(app.html).toContain(`<a href="${base}/prod/web">web</a>`);

    const group = await browser.page(`${base}/prod/web`);
    expect(group.status).toBe(200);
    expect(group.html).not.toContain('id="service-tasks"');
    expect(group.html).toContain("Delete group…");
    expect(crumbs(group.html)).toBe("Services prod web");

    for (const path of ["/pro", "/prod/we", "/prod/web/api/more", "/nope", "/Bad_Id", "/prod/tasks"]) {
      const missing = await browser.page(`${base}${path}`);
      expect(missing.status, path).toBe(404);
      expect(missing.html, path).toContain("does not exist");
    }
  });

  it("delete a group only with the CSRF token and its id typed; a deployment in progress needs force; only apps inside go", async () => {
    const browser = await new Browser().signUp();
    const base = `/ui/${browser.clusterId}/services`;
    // No agent: the app with an instance keeps its deployment in progress.
    await deploy(browser, "/prod/a", 0);
    await deploy(browser, "/prod/b/c", 1);
    await deploy(browser, "/prod/b/d", 0);
    await deploy(browser, "/production/x", 0);

    const confirm = await browser.page(`${base}/prod?confirm=delete`);
    const listed = /<ul class="delete-list"[^>]*>.*?<\/ul>/s.exec(confirm.html)?.[0] ?? "";
    expect(Browser.text(listed).trim()).toBe("/prod/a /prod/b/c /prod/b/d");
    expect(confirm.html).toContain("Type /prod to confirm");

    const refused = await browser.form(`${base}/prod`, { op: "delete-group", confirm: "/prod", force: "true", _csrf: "" });
    expect(refused.status).toBe(403);
    expect(await appStatus(browser, "/prod/a")).toBe(200);

    const mistyped = await browser.form(`${base}/prod`, { op: "delete-group", confirm: "/production", force: "true" });
    expect(mistyped.headers.get("Location")).toBe(`${base}/prod?confirm=delete#confirm`);
    expect(await flashAfter(browser, mistyped)).toContain("type the group id '/prod' exactly");
    expect(await appStatus(browser, "/prod/a")).toBe(200);

    // The form names the services it showed: a group that holds others by then is not deleted.
    const changed = await browser.form(`${base}/prod/b`, { op: "delete-group", confirm: "/prod/b", force: "true", apps: "/prod/b/c" });
    expect(await flashAfter(browser, changed)).toContain("changed since this page was opened");
    expect(await appStatus(browser, "/prod/b/c")).toBe(200);

    const held = await browser.form(`${base}/prod/b`, { op: "delete-group", confirm: "/prod/b", apps: "/prod/b/c /prod/b/d" });
    expect(held.headers.get("Location")).toBe(`${base}/prod/b?confirm=delete#confirm`);
    expect(await flashAfter(browser, held)).toContain("tick force");
    expect(await appStatus(browser, "/prod/b/d")).toBe(200);

    // The group above still holds /prod/a, so the page goes there.
    const forced = await browser.form(`${base}/prod/b`, { op: "delete-group", confirm: "/prod/b", force: "true", apps: "/prod/b/d /prod/b/c" });
    expect(forced.headers.get("Location")).toBe(`${base}/prod`);
    expect(await flashAfter(browser, forced)).toContain("Deleting group /prod/b: stopping 2 services");
    expect(await appStatus(browser, "/prod/b/c")).toBe(404);
    expect(await appStatus(browser, "/prod/a")).toBe(200);

    const gone = await browser.form(`${base}/prod`, { op: "delete-group", confirm: "/prod", force: "true", apps: "/prod/a" });
    expect(gone.headers.get("Location")).toBe(base);
    expect(await appStatus(browser, "/prod/a")).toBe(404);
    expect(await appStatus(browser, "/production/x")).toBe(200);
    expect((await browser.page(`${base}/prod`)).status).toBe(404);
    expect(rowText((await browser.page(base)).html, `${base}/production`)).toContain("Group of 1 app");
  });
});
