import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PASSWORD, call, uniqueEmail } from "./helpers.ts";
import { Browser } from "./ui-helpers.ts";

describe("UI session cookie", () => {
  it("is set at signup as an HttpOnly, SameSite=Lax cookie for the whole site: __Host- and Secure over HTTPS, a plain name over local HTTP", async () => {
    const browser = new Browser();
    const res = await browser.form("/signup", { email: uniqueEmail("ui"), password: PASSWORD });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("dcx_session=")) ?? "";
    expect(cookie).toMatch(/^dcx_session=dcxu_[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Secure/);

    const https = new Browser("https://dcx.test");
    const secure = await https.form("/signup", { email: uniqueEmail("ui"), password: PASSWORD });
    const hostCookie = secure.headers.getSetCookie().find((c) => c.startsWith("__Host-dcx_session=")) ?? "";
    expect(hostCookie).toMatch(/^__Host-dcx_session=dcxu_[A-Za-z0-9_-]{43};/);
    expect(hostCookie).toMatch(/; Secure/);
    expect(hostCookie).toMatch(/; Path=\//);
    expect(hostCookie).not.toMatch(/Domain=/i);
    expect(secure.headers.getSetCookie().some((c) => c.startsWith("dcx_session="))).toBe(false);
    // The HTTPS site reads only its __Host- cookie: a plain-named cookie (which a plain-HTTP page or a sibling could plant) is ignored.
    const me = await https.request("/auth/me");
    expect(me.status).toBe(200);
    const planted = await exports.default.fetch(new Request("https://dcx.test/auth/me", { headers: { Cookie: `dcx_session=${https.session ?? ""}` } }));
    expect(planted.status).toBe(401);
  });

  it("holds an ordinary user token: the API accepts it as a bearer token", async () => {
    const browser = await new Browser().signUp();
    const me = await call("/auth/me", { token: browser.session });
    expect(me.status).toBe(200);
  });

  it("logs in with the form, refuses a wrong password with the reason, and goes back only to local paths", async () => {
    const email = uniqueEmail("ui");
    await new Browser().form("/signup", { email, password: PASSWORD });
    const browser = new Browser();
    const wrong = await browser.form("/login", { email, password: "not the password", next: "/" });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Invalid email or password.");
    expect(browser.session).toBeUndefined();

    const ok = await browser.form("/login", { email, password: PASSWORD, next: "//evil.example/x" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("Location")).toBe("/");
    expect(browser.session).toMatch(/^dcxu_/);
    const local = await new Browser().form("/login", { email, password: PASSWORD, next: "/ui/abc/nodes" });
    expect(local.headers.get("Location")).toBe("/ui/abc/nodes");
  });

  it("logs in again over a stale session cookie (expired or revoked)", async () => {
    const email = uniqueEmail("ui");
    const browser = new Browser();
    await browser.form("/signup", { email, password: PASSWORD });
    await call("/auth/logout", { method: "POST", token: browser.session });
    expect((await browser.page("/login")).status).toBe(200);
    const res = await browser.form("/login", { email, password: PASSWORD, next: "/" });
    expect(res.status).toBe(303);
    expect((await call("/auth/me", { token: browser.session })).status).toBe(200);
  });

  it("shows signup's field errors next to the fields", async () => {
    const res = await new Browser().form("/signup", { email: "not-an-email", password: "short" });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toMatch(/id="field-email-errors"[^>]*><li>must be a valid email address/);
    expect(html).toMatch(/id="field-password-errors"[^>]*><li>must be at least 10 characters/);
    expect(html).toContain('aria-invalid="true"');
  });

  it("sends a visitor without a session to the login page, and back afterwards", async () => {
    const res = await new Browser().request("/ui/abcdefabcdef/services");
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe(`/login?next=${encodeURIComponent("/ui/abcdefabcdef/services")}`);
  });

  it("shows another account's cluster as not found", async () => {
    const mine = await new Browser().signUp();
    const theirs = await new Browser().signUp();
    expect((await mine.page(`/ui/${theirs.clusterId}/services`)).status).toBe(404);
  });

  it("logs out: the token is revoked and the cookie cleared", async () => {
    const browser = await new Browser().signUp();
    const token = browser.session;
    const res = await browser.form("/logout", {});
    expect(res.status).toBe(303);
    expect(browser.session).toBeUndefined();
    expect((await call("/auth/me", { token })).status).toBe(401);
  });
});

describe("UI forms refuse forgeries", () => {
  it("refuses a form posted from another origin, even with the right CSRF token", async () => {
    const browser = await new Browser().signUp();
    const res = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-dns-key" }, { Origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("another origin");
    const site = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-dns-key" }, { Origin: "", "Sec-Fetch-Site": "cross-site" });
    expect(site.status).toBe(403);
  });

  it("refuses a session form without the session's CSRF token", async () => {
    const browser = await new Browser().signUp();
    for (const csrf of ["", "forged-token-forged-token-forged-token-abcd"]) {
      const res = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-dns-key", _csrf: csrf });
      expect(res.status).toBe(403);
    }
    const other = await new Browser().signUp();
    const stolen = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-dns-key", _csrf: other.csrf });
    expect(stolen.status).toBe(403);
    const ok = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-dns-key" });
    expect(ok.status).toBe(200);
  });

  it("refuses a login posted from another site (login CSRF)", async () => {
    const res = await new Browser().form("/login", { email: uniqueEmail(), password: PASSWORD }, { Origin: "https://evil.example" });
    expect(res.status).toBe(403);
  });
});

describe("the API with the session cookie", () => {
  it("answers same-origin reads, and refuses reads from other sites", async () => {
    const browser = await new Browser().signUp();
    const path = `/c/${browser.clusterId}/v2/apps`;
    expect((await browser.request(path)).status).toBe(200);
    expect((await browser.request(path, { headers: { "Sec-Fetch-Site": "same-origin" } })).status).toBe(200);
    expect((await browser.request(path, { headers: { "Sec-Fetch-Site": "cross-site" } })).status).toBe(403);
    expect((await browser.request(path, { headers: { Origin: "https://evil.example" } })).status).toBe(403);
  });

  it("takes a change only with the X-CSRF-Token header of the session", async () => {
    const browser = await new Browser().signUp();
    const path = `/c/${browser.clusterId}/v2/apps`;
    const body = JSON.stringify({ id: "/cookie-app", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 0 });
    const json = { "Content-Type": "application/json", Origin: browser.origin };
    const without = await browser.request(path, { method: "POST", headers: json, body });
    expect(without.status).toBe(403);
    expect(((await without.json()) as { message: string }).message).toContain("X-CSRF-Token");
    const wrong = await browser.request(path, { method: "POST", headers: { ...json, "X-CSRF-Token": "x".repeat(43) }, body });
    expect(wrong.status).toBe(403);
    const crossSite = await browser.request(path, { method: "POST", headers: { ...json, Origin: "https://evil.example", "X-CSRF-Token": browser.csrf }, body });
    expect(crossSite.status).toBe(403);
    const ok = await browser.request(path, { method: "POST", headers: { ...json, "X-CSRF-Token": browser.csrf }, body });
    expect(ok.status).toBe(201);
  });

  it("lets an Authorization header win: a bad bearer token is a 401 even with a good cookie", async () => {
    const browser = await new Browser().signUp();
    const res = await browser.request(`/c/${browser.clusterId}/v2/apps`, { headers: { Authorization: "Bearer dcxu_nope" } });
    expect(res.status).toBe(401);
  });

  it("is a 401 once the session is logged out", async () => {
    const browser = await new Browser().signUp();
    const cookie = `dcx_session=${browser.session}`;
    await browser.form("/logout", {});
    const res = await call(`/c/${browser.clusterId}/v2/apps`, { headers: { Cookie: cookie } });
    expect(res.status).toBe(401);
  });
});
