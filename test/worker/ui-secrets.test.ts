import { describe, expect, it } from "vitest";
import { PASSWORD, call, uniqueEmail } from "./helpers.ts";
import { Browser } from "./ui-helpers.ts";

describe("UI Secrets page", () => {
  it("stores a secret, gives it a new value and deletes it, never showing a value; refusals are said at the field", async () => {
    const email = uniqueEmail("secrets");
    const browser = await new Browser().signUp(email);
    const base = `/ui/${browser.clusterId}/secrets`;
    expect(Browser.text((await browser.page(base)).html)).toContain("No secrets.");

    const stored = await browser.form(base, { op: "create", path: "team/db", value: "first-value-xyz" });
    expect(stored.status).toBe(303);
    const page = await browser.page(stored.headers.get("Location") ?? "");
    expect(Browser.text(page.html)).toContain("Stored secret team/db.");
    expect(page.html).toContain("team/db");
    expect(page.html).not.toContain("first-value-xyz");

    // The same path again: the store's 409, shown under the path field, nothing changed.
    const taken = await browser.form(base, { op: "create", path: "team/db", value: "other" });
    expect(taken.status).toBe(422);
    expect(Browser.text(await taken.text())).toContain("A secret already exists at 'team/db'");
    const bad = await browser.form(base, { op: "create", path: "team//db", value: "x" });
    expect(bad.status).toBe(422);
    expect(Browser.text(await bad.text())).toContain("must be segments of letters");

    const edit = await browser.page(`${base}?edit=team%2Fdb`);
    expect(Browser.text(edit.html)).toContain("New value for team/db");
    const changed = await browser.form(base, { op: "update", path: "team/db", value: "second-value" });
    expect(changed.status).toBe(303);

    // The API's list shows the change (and the audit log names the path only).
    const login = (await (await call("/auth/login", { method: "POST", json: { email, password: PASSWORD } })).json()) as { token: string };
    const listed = (await (await call(`/c/${browser.clusterId}/secrets`, { token: login.token })).json()) as {
      path: string;
      createdAt: number;
      updatedAt: number;
    }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]?.updatedAt).toBeGreaterThanOrEqual(listed[0]?.createdAt ?? Infinity);
    const audit = await (await call(`/clusters/${browser.clusterId}/audit`, { token: login.token })).text();
    expect(audit).toContain("secret.update");
    expect(audit).not.toContain("second-value");

    const deleted = await browser.form(base, { op: "delete", path: "team/db" });
    expect(deleted.status).toBe(303);
    expect(Browser.text((await browser.page(deleted.headers.get("Location") ?? "")).html)).toContain("Deleted secret team/db.");
    expect(await (await call(`/c/${browser.clusterId}/secrets`, { token: login.token })).json()).toEqual([]);
  });
});
