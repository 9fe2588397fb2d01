import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "./cluster.ts";
import { tool } from "./tools.ts";
import { Recorder, launchChromium, photograph } from "./ui-browser.ts";

const chromium = tool("chromium", "chromium");
const EMAIL = `ui-catalog-${Date.now()}@example.com`;
const PASSWORD = "correct horse battery staple";

/**
 * The Catalog in headless Chromium, as a user installs from it: search, open a package's page
 * (description, notes, versions), fill the form generated from its config schema (defaults
 * filled in; wrong values refused under their own fields, what was typed kept), install, and
 * find the app in Services marked with its package and version. PostgreSQL is installed with
 * no instances, so the test needs no agent and no Docker: the Catalog and Services are what is
 * under test here (test/e2e/packages.test.ts runs the packages).
 */
describe.skipIf(chromium.skip)("the Catalog in Chromium", () => {
  const cluster = new TestCluster();
  let browser: Browser;
  let page: Page;
  let recorder: Recorder;
  let base = "";
  const overflows: Record<string, number> = {};
  const shoot = async (name: string) => {
    overflows[name] = (await photograph(page, name)).overflow;
  };

  beforeAll(async () => {
    chromium.require();
    await cluster.start();
    await cluster.signUp(EMAIL, PASSWORD);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    recorder = new Recorder(context, cluster.url);
    page = await context.newPage();
    await page.goto(`${cluster.url}/login`);
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL((url) => url.pathname !== "/login");
    base = `${cluster.url}/ui/${cluster.clusterId}`;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster.stop();
  });

  it("searches the catalog and opens a package's page: description, notes, versions", async () => {
    await page.goto(`${base}/catalog`);
    await page.getByRole("searchbox", { name: "Search packages" }).fill("relational");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/[?&]q=relational/);
    const rows = page.getByRole("region", { name: "Packages" }).locator("tbody tr");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain("17.2-0.1.0");
    await shoot("catalog-search");
    await page.getByRole("link", { name: "postgresql", exact: true }).click();
    await page.waitForURL(`${base}/catalog/postgresql`);
    const main = (await page.locator("main").textContent()) ?? "";
    expect(main).toContain("PostgreSQL, the relational database");
    expect(await page.locator(".notes-pre").textContent()).toContain("Give database.password");
    expect(await page.locator(".notes-post").textContent()).toContain("Connect on port 5432");
    expect(await page.locator(".facts").textContent()).toMatch(/Versions\s*17\.2-0\.1\.0/);
    expect(await page.getByLabel("Version", { exact: true }).inputValue()).toBe("17.2-0.1.0");
    await shoot("catalog-package");
  });

  it("shows that a framework package installs a scheduler with its own service account", async () => {
    await page.goto(`${base}/catalog/hello-world`);
    expect(await page.locator(".facts").textContent()).toContain("DCX creates its service account");
    expect(await page.getByLabel("Service account").inputValue()).toBe("");
    expect(await page.getByLabel("Workers", { exact: true }).inputValue()).toBe("2");
    await shoot("catalog-framework");
    await page.goto(`${base}/catalog/postgresql`);
  });

  it("fills the form from the schema's defaults, and shows a wrong value's error under its field, keeping what was typed", async () => {
    expect(await page.getByLabel("CPUs", { exact: true }).inputValue()).toBe("1");
    expect(await page.getByLabel("Docker image").inputValue()).toBe("postgres:17.2-alpine");
    expect(await page.getByLabel("Owner").inputValue()).toBe("app");
    const password = page.getByLabel("Password (required)");
    expect(await password.getAttribute("type")).toBe("password");
    expect(await password.getAttribute("required")).not.toBeNull();
    // The browser checks `required` itself; what only the schema knows is checked by the install.
    await page.getByLabel("Database", { exact: true }).fill("Not-A-Name");
    await password.fill("short");
    await page.getByRole("button", { name: "Install postgresql" }).click();
    await page.locator("#opt-database-password-errors").waitFor();
    expect(await page.locator("#opt-database-password-errors").textContent()).toMatch(/8/);
    expect(await page.locator("#opt-database-name-errors").textContent()).toMatch(/pattern|match/i);
    expect(await page.getByLabel("Database", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Database", { exact: true }).inputValue()).toBe("Not-A-Name");
    expect(await page.locator("#opt-service-cpus-errors").count()).toBe(0);
    await shoot("catalog-install-errors");
    expect((await cluster.fetch("GET", `/c/${cluster.clusterId}/v2/apps/postgresql`)).status).toBe(404);
  });

  it("installs, and Services marks the app with its package and version", async () => {
    await page.getByLabel("Database", { exact: true }).fill("shop");
    await page.getByLabel("Password (required)").fill("a long enough password");
    await page.getByLabel("Instances").fill("0");
    await page.getByRole("button", { name: "Install postgresql" }).click();
    await page.waitForURL(`${base}/catalog/postgresql`);
    expect(await page.locator(".flash-ok").textContent()).toContain("Installed postgresql 17.2-0.1.0 as /postgresql.");
    expect(await page.locator("section[aria-labelledby=installed-title]").textContent()).toContain("/postgresql");
    await page.goto(`${base}/services`);
    const row = page.locator("tr", { has: page.getByRole("link", { name: "postgresql" }) });
    expect(await row.textContent()).toContain("Package postgresql 17.2-0.1.0");
    await shoot("services-with-package");
    const app = await cluster.api<{ app: { instances: number; env: Record<string, string>; labels: Record<string, string> } }>(
      "GET",
      `/c/${cluster.clusterId}/v2/apps/postgresql`,
    );
    expect(app.app.instances).toBe(0);
    expect(JSON.parse(Buffer.from(app.app.labels.DCOS_PACKAGE_OPTIONS ?? "", "base64").toString())).toMatchObject({
      database: { name: "shop" },
      service: { instances: 0 },
    });
  });

  it("loaded nothing from any other host, no script or style was refused, and no page scrolls sideways at phone width", () => {
    for (const [name, overflow] of Object.entries(overflows)) expect(overflow, `${name} scrolls sideways at phone width`).toBeLessThanOrEqual(0);
    expect(recorder.foreignRequests).toEqual([]);
    expect(recorder.failedAssets).toEqual([]);
    expect(recorder.problems).toEqual([]);
  });
});
