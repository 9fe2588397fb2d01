import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { requirement } from "./tools.ts";

const root = requirement("root", process.getuid?.() === 0 ? undefined : "the agents must run as root for cgroups (CI runs as root)");
const mt = (kind: string, v = 1) => `application/vnd.dcos.${kind}+json;charset=utf-8;version=v${v}`;

interface MasterTask {
  id: string;
  state: string;
  framework_id: string;
}
interface MesosFramework {
  id: string;
  name: string;
  active: boolean;
  principal?: string;
  tasks: MasterTask[];
}
interface AppTask {
  id: string;
  state: string;
  healthCheckResults: { alive: boolean }[];
}

/**
 * The built-in framework package end to end: `hello-world`'s scheduler (the package's own
 * JavaScript file, run by the agent's bun) is installed from the catalog, gets a service account
 * from the installer, registers over the v1 scheduler API, launches its workers on a real Bun
 * agent, fails over when its task is killed (the same framework, the same workers), and
 * uninstalling tears it all down: the scheduler, the framework with its workers, the account.
 */
describe.skipIf(root.skip)("the hello-world framework package on a real agent", () => {
  const cluster = new TestCluster({ FRAMEWORK_HEARTBEAT_SECONDS: "2" });
  const c = (path: string) => `/c/${cluster.clusterId}${path}`;
  const cosmos = async (endpoint: string, body: unknown, responseVersion = 1) => {
    const kind = `package.${endpoint}`;
    return fetch(`${cluster.url}${c(`/package/${endpoint}`)}`, {
      method: "POST",
      headers: { Authorization: `token=${cluster.token}`, "Content-Type": mt(`${kind}-request`), Accept: mt(`${kind}-response`, responseVersion) },
      body: JSON.stringify(body),
    });
  };
  const frameworks = () => cluster.api<{ frameworks: MesosFramework[]; completed_frameworks: MesosFramework[] }>("GET", c("/master/frameworks"));
  const masterTasks = async (frameworkId: string) => (await cluster.api<{ tasks: MasterTask[] }>("GET", c(`/master/tasks?framework_id=${frameworkId}`))).tasks;
  const scheduler = (id: string) =>
    waitFor(
      `${id}'s scheduler healthy`,
      async () => {
        const { tasks } = await cluster.api<{ tasks: AppTask[] }>("GET", c(`/v2/apps${id}/tasks`));
        return tasks.length === 1 && tasks[0]?.state === "TASK_RUNNING" && tasks[0].healthCheckResults[0]?.alive === true ? tasks[0] : undefined;
      },
      90_000,
      250,
    );
  const runningWorkers = (frameworkId: string, n: number) =>
    waitFor(
      `${n} workers running`,
      async () => {
        const running = (await masterTasks(frameworkId)).filter((t) => t.state === "TASK_RUNNING");
        return running.length === n ? running.map((t) => t.id).sort() : undefined;
      },
      60_000,
      250,
    );

  beforeAll(async () => {
    root.require();
    await cluster.start();
    await cluster.signUp();
    cluster.startAgent("a", { token: await cluster.joinToken(), hostname: "fw-node", resources: "cpus:2;mem:2048;disk:1024;ports:[31400-31499]" });
    await waitFor("the agent", async () => (await cluster.api<{ slaves: unknown[] }>("GET", c("/master/slaves"))).slaves[0]);
  }, 120_000);
  afterAll(() => cluster.stop());

  it("installs the framework: its scheduler registers with its own account (its secret from the store) and runs its workers; the secret is in no field", async () => {
    // The image left empty runs the scheduler on the agent's host, whose PATH has bun (the test's node_modules/.bin).
    const res = await cosmos(
      "install",
      { packageName: "hello-world", options: { service: { image: "", cpus: 0.1, mem: 64 }, hello: { count: 2, mem: 16 } } },
      2,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ packageName: "hello-world", appId: "/hello-world", postInstallNotes: expect.stringContaining("scheduler") });

    await scheduler("/hello-world");
    const shown = await (await cluster.fetch("GET", c("/v2/apps/hello-world"))).text();
    const app = (JSON.parse(shown) as { app: { env: Record<string, unknown>; secrets: unknown; labels: Record<string, string> } }).app;
    const frameworkId = app.labels.DCX_PACKAGE_FRAMEWORK_ID ?? "";
    expect(app.env.DCX_SERVICE_PRINCIPAL).toBe("hello-world-principal");
    // The secret is in the cluster's secret store and the scheduler's environment only: the app
    // names it by reference, and no field, label or listing carries a service-account secret.
    expect(app.env.DCX_SERVICE_SECRET).toEqual({ secret: "serviceAccountSecret" });
    expect(app.secrets).toEqual({ serviceAccountSecret: { source: "hello-world/service-account-secret" } });
    expect(shown).not.toContain("dcxs_");
    for (const value of Object.values(app.labels)) expect(Buffer.from(value, "base64").toString("latin1")).not.toContain("dcxs_");
    const listed = await (await cosmos("list", {})).text();
    expect(listed).toContain("hello-world");
    expect(listed).not.toContain("dcxs_");

    const registered = await waitFor(
      "the framework to register",
      async () => (await frameworks()).frameworks.find((f) => f.id === frameworkId && f.active),
      30_000,
      250,
    );
    expect(registered).toMatchObject({ name: "hello-world", principal: "hello-world-principal" });
    const workers = await runningWorkers(frameworkId, 2);
    expect(workers.map((id) => id.replace(/__.*/, ""))).toEqual(["worker-0", "worker-1"]);
    // Each worker ran its command on the agent; the scheduler logged what it launched.
    const log = (taskId: string) => cluster.fetch("GET", c(`/v2/tasks/${taskId}/logs`)).then((r) => r.text());
    // An external framework's task is named in the cluster by its framework's id and its own (task-ids.ts).
    for (const id of workers)
      await waitFor(`${id}'s output`, async () => ((await log(`${frameworkId}.${id}`)).includes(`hello from ${id}`) ? true : undefined), 15_000, 200);
    const schedulerTask = await scheduler("/hello-world");
    expect(await log(schedulerTask.id)).toContain(`subscribed as ${frameworkId}`);
    const accounts = await cluster.api<{ serviceAccounts: { principal: string; revokedAt: string | null }[] }>(
      "GET",
      `/clusters/${cluster.clusterId}/service-accounts`,
    );
    expect(accounts.serviceAccounts).toEqual([expect.objectContaining({ principal: "hello-world-principal", revokedAt: null })]);
  }, 180_000);

  it("fails over: a killed scheduler is restarted by Marathon, re-subscribes with its framework id and keeps the same workers", async () => {
    const app = (await cluster.api<{ app: { labels: Record<string, string> } }>("GET", c("/v2/apps/hello-world"))).app;
    const frameworkId = app.labels.DCX_PACKAGE_FRAMEWORK_ID ?? "";
    const before = await runningWorkers(frameworkId, 2);
    const first = await scheduler("/hello-world");
    await cluster.api("POST", c("/v2/tasks/delete"), { ids: [first.id] });
    const second = await waitFor(
      "a new scheduler task",
      async () => {
        const next = await scheduler("/hello-world");
        return next.id !== first.id ? next : undefined;
      },
      90_000,
      250,
    );
    expect(second.id).not.toBe(first.id);
    await waitFor("the framework to be active again", async () => (await frameworks()).frameworks.find((f) => f.id === frameworkId && f.active), 30_000, 250);
    // The new scheduler reconciled before using offers: the same two workers, no third.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await runningWorkers(frameworkId, 2)).toEqual(before);
    expect((await masterTasks(frameworkId)).filter((t) => t.state !== "TASK_RUNNING" && t.state !== "TASK_FINISHED")).toEqual([]);
  }, 180_000);

  it("refuses a principal already taken, naming the option, and installs nothing", async () => {
    const res = await cosmos(
      "install",
      { packageName: "hello-world", options: { service: { name: "/other", image: "", service_account: "hello-world-principal" } } },
      2,
    );
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ type: "ServiceAccountAlreadyExists", data: { errors: [{ path: "/service/service_account" }] } });
    expect((await cluster.fetch("GET", c("/v2/apps/other"))).status).toBe(404);
    const bad = await cosmos("install", { packageName: "hello-world", options: { service: { name: "/other", service_account: "not a principal" } } }, 2);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: "JsonSchemaMismatch" });
  });

  it("uninstalls: the scheduler, the framework and its workers, and the service account are gone", async () => {
    const app = (await cluster.api<{ app: { labels: Record<string, string> } }>("GET", c("/v2/apps/hello-world"))).app;
    const frameworkId = app.labels.DCX_PACKAGE_FRAMEWORK_ID ?? "";
    const res = await cosmos("uninstall", { packageName: "hello-world" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ results: [{ appId: "/hello-world", postUninstallNotes: expect.stringContaining("torn down") }] });
    await waitFor("the app removed", async () => ((await cluster.fetch("GET", c("/v2/apps/hello-world"))).status === 404 ? true : undefined), 30_000, 200);
    await waitFor(
      "the workers killed",
      async () => ((await masterTasks(frameworkId)).every((t) => t.state !== "TASK_RUNNING") ? true : undefined),
      30_000,
      200,
    );
    const all = await frameworks();
    expect(all.frameworks.find((f) => f.id === frameworkId)).toBeUndefined();
    expect(all.completed_frameworks.map((f) => f.id)).toContain(frameworkId);
    const accounts = await cluster.api<{ serviceAccounts: { principal: string; revokedAt: string | null }[] }>(
      "GET",
      `/clusters/${cluster.clusterId}/service-accounts`,
    );
    expect(accounts.serviceAccounts[0]?.revokedAt).not.toBeNull();
  }, 60_000);
});
