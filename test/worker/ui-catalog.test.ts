import { afterEach, describe, expect, it } from "vitest";
import { helloPackage } from "../support/universe-fixture.ts";
import { fakeRepositories } from "./packages-support.ts";
import { Browser } from "./ui-helpers.ts";

type App = { id: string; cpus: number; labels: Record<string, string>; env: Record<string, string> };

async function apps(browser: Browser): Promise<App[]> {
  const res = await browser.request(`/c/${browser.clusterId}/v2/apps`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { apps: App[] }).apps;
}

/** The errors shown under one generated field (its id is `opt-` + the option path with dots as dashes). */
function fieldErrors(html: string, option: string): string {
  const id = `opt-${option.replace(/\./g, "-")}-errors`;
  return Browser.text(new RegExp(`<ul class="field-errors" id="${id}">[\\s\\S]*?</ul>`).exec(html)?.[0] ?? "").trim();
}

describe("the Catalog page", () => {
  it("lists and searches the packages, with a page per package and a 404 for none", async () => {
    const browser = await new Browser().signUp();
    const all = await browser.page(`/ui/${browser.clusterId}/catalog`);
    expect(all.status).toBe(200);
    for (const name of ["nginx", "redis", "postgresql", "http-check"]) expect(all.html).toContain(`href="/ui/${browser.clusterId}/catalog/${name}"`);
    expect(all.html).toMatch(/aria-current="page"[^>]*>Catalog|href="\/ui\/[a-z0-9]+\/catalog" aria-current="page"/);
    const kv = await browser.page(`/ui/${browser.clusterId}/catalog?q=key-value`);
    expect(kv.html).toContain("/catalog/redis");
    expect(kv.html).not.toContain("/catalog/nginx");
    expect((await browser.page(`/ui/${browser.clusterId}/catalog/nope`)).status).toBe(404);
    expect((await browser.page(`/ui/${browser.clusterId}/catalog/redis?version=0.0.1`)).status).toBe(404);
  });

  it("generates the install form from the config schema: defaults filled in, required fields marked", async () => {
    const browser = await new Browser().signUp();
    const { status, html } = await browser.page(`/ui/${browser.clusterId}/catalog/postgresql`);
    expect(status).toBe(200);
    expect(html).toMatch(/<input[^>]*name="service\.cpus"[^>]*type="number"[^>]*value="1"/);
    expect(html).toMatch(/<input[^>]*name="database\.password"[^>]*type="password"[^>]*required/);
    expect(Browser.text(html)).toContain("Password (required)");
    expect(Browser.text(html)).toContain("Give database.password");
    expect(html).toMatch(/<select[^>]*name="packageVersion"/);
  });

  it("shows each schema error under its field, keeps what was typed, and installs nothing", async () => {
    const browser = await new Browser().signUp();
    await browser.page(`/ui/${browser.clusterId}/catalog/postgresql`);
    const missing = await browser.form(`/ui/${browser.clusterId}/catalog/postgresql`, { "service.cpus": "abc", "database.name": "shop" });
    expect(missing.status).toBe(422);
    const html = await missing.text();
    expect(fieldErrors(html, "database.password")).toBe("is required");
    expect(fieldErrors(html, "service.cpus")).toMatch(/number/);
    expect(html).toMatch(/name="database\.name"[^>]*value="shop"/);
    expect(await apps(browser)).toEqual([]);
  });

  it("installs with the form's options and app id, through the same path as the API", async () => {
    const browser = await new Browser().signUp();
    await browser.page(`/ui/${browser.clusterId}/catalog/postgresql`);
    const res = await browser.form(`/ui/${browser.clusterId}/catalog/postgresql`, {
      appId: "/shop/db",
      "service.cpus": "0.5",
      "database.password": "correct horse",
      "service.cmd": "",
    });
    expect(res.status).toBe(303);
    const { html } = await browser.page(res.headers.get("Location") ?? "");
    expect(Browser.text(html)).toContain("Installed postgresql 17.2-0.1.0 as /shop/db.");
    expect(html).toContain(`href="/ui/${browser.clusterId}/services/shop/db"`);
    const [app] = await apps(browser);
    expect(app).toMatchObject({ id: "/shop/db", cpus: 0.5, env: { POSTGRES_PASSWORD: "correct horse" }, labels: { DCOS_PACKAGE_NAME: "postgresql" } });
    // Services marks the app with its package and version.
    const services = await browser.page(`/ui/${browser.clusterId}/services/shop`);
    expect(Browser.text(services.html)).toContain("Package postgresql 17.2-0.1.0");
    // A second install under the same id is refused on the form, as Cosmos's 409.
    const again = await browser.form(`/ui/${browser.clusterId}/catalog/postgresql`, { appId: "/shop/db", "database.password": "correct horse" });
    expect(again.status).toBe(422);
    expect(Browser.text(await again.text())).toContain("already installed");
  });

  describe("repositories", () => {
    let restore: (() => void) | undefined;
    afterEach(() => restore?.());
    const REPO = "https://repo.example/company";

    it("adds a company repository by URL, installs its package from the form, and removes the repository", async () => {
      const browser = await new Browser().signUp();
      restore = fakeRepositories({ [REPO]: { body: JSON.stringify({ packages: [helloPackage()] }) } }).restore;
      const base = `/ui/${browser.clusterId}/catalog`;
      await browser.page(base);
      const added = await browser.form(base, { op: "add-repository", name: "company", uri: REPO, index: "0" });
      expect(added.status).toBe(303);
      const page = await browser.page(added.headers.get("Location") ?? "");
      expect(Browser.text(page.html)).toContain("Added the repository company.");
      expect(page.html).toContain(`href="${base}/hello"`);
      expect(Browser.text(page.html)).toMatch(/company .*https:\/\/repo\.example\/company.*dcx-universe/);

      await browser.page(`${base}/hello`);
      const installed = await browser.form(`${base}/hello`, { "service.name": "greeter", "service.greeting": "hej", "service.cpus": "0.2" });
      expect(installed.status).toBe(303);
      const [app] = await apps(browser);
      expect(app).toMatchObject({ id: "/greeter", cpus: 0.2, env: { GREETING: "hej" }, labels: { DCOS_PACKAGE_SOURCE: REPO } });

      const removed = await browser.form(base, { op: "remove-repository", name: "company" });
      expect(removed.status).toBe(303);
      expect((await browser.page(`${base}/hello`)).status).toBe(404);
    });

    it("shows why a repository was refused on the form, keeping what was typed, and adds nothing", async () => {
      const browser = await new Browser().signUp();
      restore = fakeRepositories({ [REPO]: { body: "<html>not a repository</html>", contentType: "text/html" } }).restore;
      const base = `/ui/${browser.clusterId}/catalog`;
      await browser.page(base);
      const res = await browser.form(base, { op: "add-repository", name: "company", uri: REPO });
      expect(res.status).toBe(422);
      const html = await res.text();
      expect(Browser.text(html)).toContain(`The repository at ${REPO} is not JSON.`);
      expect(html).toMatch(/name="uri"[^>]*value="https:\/\/repo\.example\/company"/);
      expect(Browser.text((await browser.page(base)).html)).not.toContain("company");
    });
  });

  it("refuses a form without the session's CSRF token", async () => {
    const browser = await new Browser().signUp();
    const res = await browser.form(`/ui/${browser.clusterId}/catalog/redis`, { _csrf: "" });
    expect(res.status).toBe(403);
    expect(await apps(browser)).toEqual([]);
  });

  it("installs a framework package from its form; a principal in use is shown under the service account field", async () => {
    const browser = await new Browser().signUp();
    const page = await browser.page(`/ui/${browser.clusterId}/catalog/hello-world`);
    expect(Browser.text(page.html)).toContain("runs a framework's scheduler");
    const first = await browser.form(`/ui/${browser.clusterId}/catalog/hello-world`, { "hello.count": "3" });
    expect(first.status).toBe(303);
    const [app] = await apps(browser);
    expect(app?.env).toMatchObject({ WORKER_COUNT: "3", DCX_SERVICE_PRINCIPAL: "hello-world-principal" });
    await browser.page(`/ui/${browser.clusterId}/catalog/hello-world`);
    const again = await browser.form(`/ui/${browser.clusterId}/catalog/hello-world`, { appId: "/hello-2", "service.service_account": "hello-world-principal" });
    expect(again.status).toBe(422);
    expect(fieldErrors(await again.text(), "service.service_account")).toContain("hello-world-principal");
    expect((await apps(browser)).map((a) => a.id)).toEqual(["/hello-world"]);
  });
});
