import { describe, expect, it } from "vitest";
import { PASSWORD, call, joinAgent, uniqueEmail } from "./helpers.ts";
import { Browser } from "./ui-helpers.ts";
import { Framework, launch } from "./scheduler-helpers.ts";

describe("UI Frameworks page", () => {
  it("lists the built-in and external frameworks with principal, state, tasks and offers, and tears one down after its name is typed", async () => {
    const email = uniqueEmail("fw");
    const browser = await new Browser().signUp(email);
    const login = (await (await call("/auth/login", { method: "POST", json: { email, password: PASSWORD } })).json()) as {
      token: string;
      user: { id: string; email: string };
    };
    const account = { token: login.token, user: login.user, cluster: { id: browser.clusterId, name: "default" } };
    const { socket } = await joinAgent(account);
    const fw = await Framework.subscribe(account, { name: "spark" });
    const [offer] = await fw.offers();
    await fw.call("ACCEPT", { accept: launch(offer!, "driver-1") });
    await socket.nextOfType("launch");
    const base = `/ui/${browser.clusterId}/frameworks`;
    const page = await browser.page(base);
    expect(page.status).toBe(200);
    const text = Browser.text(page.html);
    expect(text).toContain("marathon");
    expect(text).toContain("metronome");
    expect(text).toContain("spark");
    expect(text).toContain(fw.frameworkId);
    expect(text).toContain(email);
    expect(page.html).toContain(`?teardown=${fw.frameworkId}#confirm`);

    const wrong = await browser.form(base, { op: "teardown", id: fw.frameworkId, confirm: "sparky" });
    expect(wrong.status).toBe(303);
    expect(Browser.text((await browser.page(wrong.headers.get("Location") ?? "")).html)).toContain("Not torn down");
    const done = await browser.form(base, { op: "teardown", id: fw.frameworkId, confirm: "spark" });
    expect(done.status).toBe(303);
    expect(Browser.text((await browser.page(done.headers.get("Location") ?? "")).html)).toContain("Tore down spark");
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([fw.taskId("driver-1")]);
  });
});
