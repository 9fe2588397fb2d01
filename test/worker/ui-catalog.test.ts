import { describe, expect, it } from "vitest";
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
    const res = await browser.form(`/ui/${browser.clusterId}/catalog/postgresql`, { appId: "/shop/db", "service.cpus": "0.5", "database.password": "correct horse", "service.cmd": "" });
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

  it("refuses a form without the session's CSRF token", async () => {
    const browser = await new Browser().signUp();
    const res = await browser.form(`/ui/${browser.clusterId}/catalog/redis`, { _csrf: "" });
    expect(res.status).toBe(403);
    expect(await apps(browser)).toEqual([]);
  });
});
