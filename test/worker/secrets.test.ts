import { describe, expect, it } from "vitest";
import { type Account, call, expectInvalid, joinAgent, signUp } from "./helpers.ts";

/**
 * The cluster's secret store (DC/OS's secrets API) and Marathon's app `secrets`: values go into
 * launched tasks' environments and nowhere else: not the app definitions members read, not the
 * API, not the audit log.
 */

const VALUE = "s3cr3t-value-that-must-not-leak";
const secretUrl = (a: Account, path: string, query = "") => `/c/${a.cluster.id}/secrets/v1/secret/default/${path}${query}`;
const put = (a: Account, path: string, value: unknown, method = "PUT") => call(secretUrl(a, path), { method, token: a.token, json: { value } });
const app = (id: string, extra: Record<string, unknown> = {}) => ({ id, cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 1, ...extra });
const withSecret = (id: string, source: string) => app(id, { secrets: { db: { source } }, env: { PLAIN: "visible", DB_PASSWORD: { secret: "db" } } });

describe("the secret store", () => {
  it("creates, lists, changes and deletes secrets, and never answers a value", async () => {
    const a = await signUp();
    expect((await put(a, "team/db", VALUE)).status).toBe(201);
    const again = await put(a, "team/db", "other");
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toContain("already exists at 'team/db'");
    expect((await put(a, "team/cache", "x")).status).toBe(201);

    const listed = await call(secretUrl(a, "", "?list=true"), { token: a.token });
    expect(await listed.json()).toEqual({ array: ["team/cache", "team/db"] });
    expect(await (await call(secretUrl(a, "team", "?list=true"), { token: a.token })).json()).toEqual({ array: ["cache", "db"] });
    const read = await call(secretUrl(a, "team/db"), { token: a.token });
    expect(read.status).toBe(403);
    const withTimes = await (await call(`/c/${a.cluster.id}/secrets`, { token: a.token })).text();
    expect(withTimes).toContain('"path":"team/db"');
    expect(withTimes).not.toContain(VALUE);

    expect((await put(a, "team/db", "rotated", "PATCH")).status).toBe(204);
    expect((await put(a, "team/nothing", "x", "PATCH")).status).toBe(404);
    expect((await call(secretUrl(a, "team/cache"), { method: "DELETE", token: a.token })).status).toBe(204);
    expect((await call(secretUrl(a, "team/cache"), { method: "DELETE", token: a.token })).status).toBe(404);

    // The audit log names the path, never the value.
    const audit = await (await call(`/clusters/${a.cluster.id}/audit`, { token: a.token })).text();
    expect(audit).toContain('"action":"secret.create"');
    expect(audit).toContain('"target":"team/db"');
    expect(audit).not.toContain(VALUE);
  });

  it("refuses bad paths and values naming the problem", async () => {
    const a = await signUp();
    // (URLs have their dot segments resolved before any route sees them; an encoded empty segment gets through.)
    await expectInvalid(await put(a, "team%2F%2Fdb", "x"), "/path");
    await expectInvalid(await put(a, "white%20space", "x"), "/path");
    await expectInvalid(await put(a, "big", "x".repeat(65_537)), "/value");
    await expectInvalid(await put(a, "number", 5), "/value");
    expect(await (await call(secretUrl(a, "", "?list=true"), { token: a.token })).json()).toEqual({ array: [] });
    // Another cluster's member sees nothing of this store.
    const b = await signUp();
    expect((await put(a, "only-a", "x")).status).toBe(201);
    expect(await (await call(secretUrl(b, "", "?list=true"), { token: b.token })).json()).toEqual({ array: [] });
    expect((await call(secretUrl(a, "", "?list=true"), { token: b.token })).status).toBe(404);
  });
});

describe("Marathon apps' secrets", () => {
  it("an env reference needs a declared secret, and a declared secret needs the store to hold it", async () => {
    const a = await signUp();
    const undeclared = await call(`/c/${a.cluster.id}/v2/apps`, { method: "POST", token: a.token, json: app("/u", { env: { X: { secret: "nope" } } }) });
    await expectInvalid(undeclared, "/env/X");
    const missing = await call(`/c/${a.cluster.id}/v2/apps`, { method: "POST", token: a.token, json: withSecret("/m", "not/stored") });
    await expectInvalid(missing, "/secrets/db/source");
    const dotted = await call(`/c/${a.cluster.id}/v2/apps`, { method: "POST", token: a.token, json: withSecret("/d", "team/../db") });
    await expectInvalid(dotted, "/secrets/db/source");
    expect((await call(`/c/${a.cluster.id}/v2/apps/m`, { token: a.token })).status).toBe(404);
  });

  it("a task gets the value in its environment; the app definition and the API show only the reference", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    expect((await put(a, "web/db", VALUE)).status).toBe(201);
    const created = await call(`/c/${a.cluster.id}/v2/apps`, { method: "POST", token: a.token, json: withSecret("/web", "web/db") });
    expect(created.status).toBe(201);
    const launch = await socket.nextOfType<{ tasks: { env: Record<string, string> }[] }>("launch");
    expect(launch.tasks[0]?.env.DB_PASSWORD).toBe(VALUE);
    expect(launch.tasks[0]?.env.PLAIN).toBe("visible");
    const shown = await (await call(`/c/${a.cluster.id}/v2/apps/web?embed=app.tasks`, { token: a.token })).text();
    expect(shown).toContain('"DB_PASSWORD":{"secret":"db"}');
    expect(shown).not.toContain(VALUE);

    // In use: the store refuses to delete it, naming the app.
    const del = await call(secretUrl(a, "web/db"), { method: "DELETE", token: a.token });
    expect(del.status).toBe(409);
    expect(((await del.json()) as { message: string }).message).toContain("/web");

    // A changed value reaches the next launch.
    expect((await put(a, "web/db", "rotated", "PATCH")).status).toBe(204);
    const scaled = await call(`/c/${a.cluster.id}/v2/apps/web?force=true`, { method: "PATCH", token: a.token, json: { instances: 2 } });
    expect(scaled.status).toBe(200);
    const next = await socket.nextOfType<{ tasks: { env: Record<string, string> }[] }>("launch");
    expect(next.tasks.map((t) => t.env.DB_PASSWORD)).toEqual(["rotated"]);

    // Once no app names it, it can go.
    expect((await call(`/c/${a.cluster.id}/v2/apps/web?force=true`, { method: "DELETE", token: a.token })).status).toBe(200);
    expect((await call(secretUrl(a, "web/db"), { method: "DELETE", token: a.token })).status).toBe(204);
  });
});
