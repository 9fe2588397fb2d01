import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ControlPlane, ROOT, startControlPlane, toolEnv, WRANGLER } from "../../scripts/lib/control-plane.ts";
import { freePort, run, waitFor } from "../../scripts/lib/processes.ts";

const signUp = (url: string, email: string) =>
  fetch(`${url}/auth/signup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: "a long passphrase" }),
  });
const logIn = (url: string, email: string) =>
  fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: "a long passphrase" }),
  });

/**
 * The local runtime (scripts/lib/runtime.ts: the deploy bundle under Miniflare's API) and
 * `wrangler dev` keep one state directory between them: the same layout under `--persist-to`,
 * the same record of applied D1 migrations, the same Durable Object storage.
 */
describe("the local runtime", () => {
  const dir = mkdtempSync(join(tmpdir(), "dcx-runtime-"));
  const persistDir = join(dir, "state");
  let cp: ControlPlane | undefined;
  afterAll(async () => {
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies the D1 migrations as wrangler records them, and wrangler dev takes over its state", async () => {
    cp = await startControlPlane({ runtime: "miniflare", port: await freePort(), persistDir, logLevel: "error" });
    const signup = await signUp(cp.url, "first@example.com");
    expect(signup.status).toBe(201);
    const first = (await signup.json()) as { token: string; cluster: { id: string } };
    const cluster = first.cluster.id;
    // Something only the Cluster object stores: an app (no agent, so it waits in the queue).
    const app = { id: "/kept", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 1 };
    const created = await fetch(`${cp.url}/c/${cluster}/v2/apps`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${first.token}` },
      body: JSON.stringify(app),
    });
    expect(created.status).toBe(201);
    // The runtime's bundle lives under .wrangler/tmp while it runs, and is gone once it stops.
    const { bundleDir } = JSON.parse(cp.child.proc.spawnargs.at(-1) ?? "{}") as { bundleDir: string };
    expect(bundleDir.startsWith(join(ROOT, ".wrangler", "tmp", "bundle-"))).toBe(true);
    expect(existsSync(join(bundleDir, "index.js"))).toBe(true);
    await cp.stop();
    await waitFor("the bundle to be removed", () => (existsSync(bundleDir) ? undefined : true), 5000);

    const out = await run(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], { cwd: ROOT, env: toolEnv({ CI: "true" }) });
    expect(out).toContain("No migrations to apply");

    cp = await startControlPlane({ runtime: "wrangler", port: await freePort(), persistDir, logLevel: "error" });
    const login = await logIn(cp.url, "first@example.com");
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    // The Cluster object's own storage came along too: the app is there.
    const apps = await fetch(`${cp.url}/c/${cluster}/v2/apps`, { headers: { Authorization: `Bearer ${token}` } });
    expect(((await apps.json()) as { apps: { id: string }[] }).apps.map((a) => a.id)).toEqual(["/kept"]);
    expect(await signUp(cp.url, "second@example.com").then((r) => r.status)).toBe(201);
    await cp.stop();

    cp = await startControlPlane({ runtime: "miniflare", port: await freePort(), persistDir, logLevel: "error" });
    expect(await logIn(cp.url, "second@example.com").then((r) => r.status)).toBe(200);
  });
});
