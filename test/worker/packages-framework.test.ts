import { describe, expect, it } from "vitest";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";
import { cosmos, expectCosmosError, mt } from "./packages-support.ts";

type App = { id: string; env: Record<string, unknown>; secrets: Record<string, { source: string }>; labels: Record<string, string> };
type ServiceAccount = { id: string; principal: string; revokedAt: string | null };
const accounts = async (a: Account) =>
  ((await (await call(`/clusters/${a.cluster.id}/service-accounts`, { token: a.token })).json()) as { serviceAccounts: ServiceAccount[] }).serviceAccounts;
const app = async (a: Account, id: string) => ((await (await call(`/c/${a.cluster.id}/v2/apps${id}`, { token: a.token })).json()) as { app: App }).app;
const storedSecrets = async (a: Account) => (await (await call(`/c/${a.cluster.id}/secrets`, { token: a.token })).json()) as { path: string }[];

/**
 * A framework package's install and uninstall as the control plane sees them (a simulated agent
 * here; test/e2e/packages-framework.test.ts runs the scheduler): the installer's service account,
 * its secret in the cluster's store and only there and in the scheduler's launch, the account
 * revoked and the secret deleted when the app is refused or uninstalled.
 */
describe("installing the hello-world framework package", () => {
  it("creates the scheduler's service account, whose secret is accepted by the scheduler API, and revokes it on uninstall", async () => {
    const a = await signUp();
    const { socket } = await joinAgent(a);
    // Without an image the scheduler runs on the agent's host (exec), which this simulated agent takes.
    const res = await cosmos(
      a,
      "install",
      { packageName: "hello-world", options: { service: { name: "/team/hello", image: "" } } },
      { accept: mt("package.install-response", 2) },
    );
    expect(res.status, await res.clone().text()).toBe(200);
    const installed = await app(a, "/team/hello");
    expect(installed.env).toMatchObject({
      DCX_SERVICE_PRINCIPAL: "team-hello-principal",
      DCX_SCHEDULER_URL: `http://dcx.test/c/${a.cluster.id}/api/v1/scheduler`,
      DCX_SERVICE_SECRET: { secret: "serviceAccountSecret" },
    });
    expect(installed.secrets).toEqual({ serviceAccountSecret: { source: "team/hello/service-account-secret" } });
    expect(await storedSecrets(a)).toEqual([expect.objectContaining({ path: "team/hello/service-account-secret" })]);
    expect(installed.labels.DCX_PACKAGE_FRAMEWORK_ID).toMatch(/^[0-9a-f-]{36}-0000$/);
    const [account] = await accounts(a);
    expect(account).toMatchObject({ id: installed.labels.DCX_PACKAGE_SERVICE_ACCOUNT, principal: "team-hello-principal", revokedAt: null });
    // The scheduler's task gets the secret in its environment, and nothing members read holds it.
    const launch = await socket.nextOfType<{ tasks: { env: Record<string, string> }[] }>("launch");
    const secret = launch.tasks[0]?.env.DCX_SERVICE_SECRET ?? "";
    expect(secret).toMatch(/^dcxs_/);
    expect(JSON.stringify(installed)).not.toContain(secret);
    // The secret authenticates to the scheduler API (a RECONCILE without a subscription is a 403, not a 401).
    const basic = `Basic ${btoa(`team-hello-principal:${secret}`)}`;
    const callScheduler = () =>
      call(`/c/${a.cluster.id}/api/v1/scheduler`, {
        method: "POST",
        headers: { Authorization: basic, "Content-Type": "application/json", "Mesos-Stream-Id": "x" },
        body: JSON.stringify({ type: "RECONCILE", framework_id: { value: "f" }, reconcile: { tasks: [] } }),
      });
    expect((await callScheduler()).status).toBe(403);

    const removed = await cosmos(a, "uninstall", { packageName: "hello-world" });
    expect(removed.status).toBe(200);
    expect((await accounts(a))[0]?.revokedAt).not.toBeNull();
    expect((await callScheduler()).status).toBe(401);
    expect(await storedSecrets(a)).toEqual([]);
  });

  it("revokes the account again when the app is refused (its id is taken), leaving nothing behind", async () => {
    const a = await signUp();
    await call(`/c/${a.cluster.id}/v2/apps`, { method: "POST", token: a.token, json: { id: "/taken", cmd: "sleep 1", cpus: 0.1, mem: 16 } });
    const res = await cosmos(a, "install", { packageName: "hello-world", appId: "/taken" }, { accept: mt("package.install-response", 2) });
    await expectCosmosError(res, "PackageAlreadyInstalled", 409);
    const all = await accounts(a);
    expect(all).toEqual([expect.objectContaining({ principal: "taken-principal" })]);
    expect(all[0]?.revokedAt).not.toBeNull();
    expect(await storedSecrets(a)).toEqual([]);
    // The principal is free again: the next install under another id may use it.
    const retry = await cosmos(
      a,
      "install",
      { packageName: "hello-world", appId: "/free", options: { service: { service_account: "taken-principal" } } },
      { accept: mt("package.install-response", 2) },
    );
    expect(retry.status, await retry.clone().text()).toBe(200);
  });

  it("refuses a principal in use, naming the option, before creating anything", async () => {
    const a = await signUp();
    await call(`/clusters/${a.cluster.id}/service-accounts`, { method: "POST", token: a.token, json: { principal: "hello-world-principal" } });
    const res = await cosmos(a, "install", { packageName: "hello-world" }, { accept: mt("package.install-response", 2) });
    const body = await expectCosmosError(res, "ServiceAccountAlreadyExists", 409);
    expect(body.data).toEqual({ errors: [{ path: "/service/service_account", errors: [expect.stringContaining("hello-world-principal")] }] });
    expect((await call(`/c/${a.cluster.id}/v2/apps/hello-world`, { token: a.token })).status).toBe(404);
  });
});
