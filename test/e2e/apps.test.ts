import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { requirement, taskAnswer } from "./tools.ts";

const root = requirement("root", process.getuid?.() === 0 ? undefined : "the agents must run as root for cgroups (CI runs as root)");

interface Task {
  id: string;
  host: string;
  ports: number[];
  slaveId: string;
  state: string;
  version: string;
  ipAddresses: { ipAddress: string }[];
}
interface App {
  id: string;
  version: string;
  tasksRunning: number;
  deployments: { id: string }[];
  lastTaskFailure?: { message: string; state: string };
}

const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "echo-server.mjs");
const serve = (marker: string) => `exec node ${FIXTURE} ${marker}`;

/** Processes on this machine whose command line holds `marker`. */
function processesWith(marker: string): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,stat=,args="], { encoding: "utf8" });
  return out.split("\n").filter((line) => line.includes(marker) && !/\sZ/.test(line.slice(0, 16)) && !line.includes("ps -eo"));
}

/**
 * Apps end to end: the control plane on workerd, two real Bun agents, and real child
 * processes serving HTTP, started, scaled, replaced, killed and deleted through /v2.
 */
describe("Marathon apps on real agents", () => {
  const cluster = new TestCluster();
  const c = () => `/c/${cluster.clusterId}`;
  const tasks = async (id: string) => (await cluster.api<{ tasks: Task[] }>("GET", `${c()}/v2/apps${id}/tasks`)).tasks;
  const app = async (id: string) => (await cluster.api<{ app: App }>("GET", `${c()}/v2/apps${id}`)).app;
  const settled = (id: string, count: number) =>
    waitFor(
      `${id} to settle at ${count} running with no deployment`,
      async () => {
        const [a, t] = await Promise.all([app(id), tasks(id)]);
        return a.deployments.length === 0 && t.length === count && t.every((x) => x.state === "TASK_RUNNING") ? t : undefined;
      },
      60_000,
      200,
    );

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
    const token = await cluster.joinToken();
    cluster.startAgent("a", { token, hostname: "node-a", advertiseIp: "127.0.0.2", resources: "cpus:2;mem:2048;disk:1024;ports:[31000-31099]" });
    cluster.startAgent("b", { token, hostname: "node-b", advertiseIp: "127.0.0.3", resources: "cpus:2;mem:2048;disk:1024;ports:[31100-31199]" });
    await waitFor("two agents", async () => ((await cluster.api<{ slaves: unknown[] }>("GET", `${c()}/master/slaves`)).slaves.length === 2 ? true : undefined));
  });
  afterAll(() => cluster.stop());

  it("deploys an app whose tasks serve HTTP on $PORT0, on both agents", async () => {
    const res = await cluster.fetch("POST", `${c()}/v2/apps`, { id: "/web", cmd: serve("dcx-e2e-web"), cpus: 0.1, mem: 64, instances: 2 });
    expect(res.status).toBe(201);
    const running = await settled("/web", 2);
    expect(new Set(running.map((t) => t.slaveId)).size).toBe(2);
    for (const t of running) {
      expect(t.ports[0]).toBeGreaterThanOrEqual(31000);
      expect(await taskAnswer(t)).toBe(`${t.id} hello`);
    }
  });

  it("scales 2 → 3 → 1", async () => {
    await cluster.api("PATCH", `${c()}/v2/apps/web`, { instances: 3 });
    const three = await settled("/web", 3);
    for (const t of three) expect(await taskAnswer(t)).toContain(t.id);
    await cluster.api("PATCH", `${c()}/v2/apps/web`, { instances: 1 });
    const one = await settled("/web", 1);
    const stopped = three.filter((t) => t.id !== one[0]?.id);
    // Killed tasks no longer listen: one refused connection each says so.
    for (const t of stopped) await expect(fetch(`http://${t.ipAddresses[0]?.ipAddress}:${t.ports[0]}/`)).rejects.toThrow();
  });

  it("a config change rolls tasks over without dropping below the instance count", async () => {
    await cluster.api("PATCH", `${c()}/v2/apps/web`, { instances: 2 });
    await settled("/web", 2);
    const before = await app("/web");
    await cluster.api("PATCH", `${c()}/v2/apps/web`, { env: { GREETING: "v2" } });
    let minRunning = Infinity;
    const done = await waitFor(
      "the rolling replacement",
      async () => {
        const [a, t] = await Promise.all([app("/web"), tasks("/web")]);
        minRunning = Math.min(minRunning, t.filter((x) => x.state === "TASK_RUNNING").length);
        const fresh = t.filter((x) => x.version !== before.version);
        return a.deployments.length === 0 && fresh.length === 2 && t.length === 2 ? t : undefined;
      },
      60_000,
      50,
    );
    expect(minRunning).toBeGreaterThanOrEqual(2);
    for (const t of done) expect(await taskAnswer(t)).toBe(`${t.id} v2`);
  });

  it("a killed task is replaced", async () => {
    const [victim] = await tasks("/web");
    await cluster.api("DELETE", `${c()}/v2/apps/web/tasks/${victim?.id}`);
    const after = await waitFor(
      "a replacement",
      async () => {
        const t = await tasks("/web");
        return t.length === 2 && t.every((x) => x.state === "TASK_RUNNING" && x.id !== victim?.id) ? t : undefined;
      },
      30_000,
      100,
    );
    expect(after.map((t) => t.id)).not.toContain(victim?.id);
  });

  it("deleting the app leaves no process of it on the machine", async () => {
    expect(processesWith("dcx-e2e-web").length).toBeGreaterThan(0);
    const res = await cluster.fetch("DELETE", `${c()}/v2/apps/web`);
    expect(res.status).toBe(200);
    await waitFor("the app's processes to end", () => (processesWith("dcx-e2e-web").length === 0 ? true : undefined), 30_000, 200);
    await waitFor("the stop deployment to end", async () => ((await cluster.api<unknown[]>("GET", `${c()}/v2/deployments`)).length === 0 ? true : undefined));
  });

  it("an app that exits 1 backs off with growing delays and reports lastTaskFailure", async () => {
    const failures: number[] = [];
    const stream = await fetch(`${cluster.url}${c()}/v2/events?event_type=status_update_event`, {
      headers: { Authorization: `Bearer ${cluster.token}`, Accept: "text/event-stream" },
    });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    await cluster.api("POST", `${c()}/v2/apps`, { id: "/crash", cmd: "echo boom >&2; exit 1", cpus: 0.1, mem: 16, backoffSeconds: 1, backoffFactor: 2 });
    let buffer = "";
    while (failures.length < 4) {
      const { value } = await reader.read();
      buffer += decoder.decode(value, { stream: true });
      const count = (buffer.match(/"appId":"\/crash"[^\n]*"taskStatus":"TASK_FAILED"|"taskStatus":"TASK_FAILED"[^\n]*"appId":"\/crash"/g) ?? []).length;
      while (failures.length < count) failures.push(Date.now());
    }
    await reader.cancel();
    const gaps = failures.slice(1).map((t, i) => t - (failures[i] ?? 0));
    expect(gaps[0]).toBeGreaterThan(800);
    expect(gaps[2] ?? 0).toBeGreaterThan((gaps[0] ?? 0) * 2);
    const info = await app("/crash");
    expect(info.lastTaskFailure?.state).toBe("TASK_FAILED");
    expect(info.lastTaskFailure?.message).toMatch(/exited with code 1[\s\S]*boom/);
    // A crash-looping app never completes its deployment: deleting it needs force, as in Marathon.
    await cluster.api("DELETE", `${c()}/v2/apps/crash?force=true`);
  });

  // The agents run as root here (as in CI), so exec tasks get a cgroup with their limits.
  it.skipIf(root.skip)("an exec task over its mem is killed whole and FAILED with 'memory limit exceeded' (cgroups, as root)", async () => {
    root.require();
    await cluster.api("POST", `${c()}/v2/apps`, { id: "/hog", cmd: "x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 600", cpus: 0.2, mem: 32 });
    const failure = await waitFor("the memory failure", async () => (await app("/hog")).lastTaskFailure, 60_000, 200);
    expect(failure).toMatchObject({ state: "TASK_FAILED", message: expect.stringContaining("memory limit exceeded") });
    await cluster.api("DELETE", `${c()}/v2/apps/hog?force=true`);
  });

  it("UNIQUE on more instances than agents waits and says why in /v2/queue", async () => {
    await cluster.api("POST", `${c()}/v2/apps`, {
      id: "/uniq",
      cmd: serve("dcx-e2e-uniq"),
      cpus: 0.1,
      mem: 16,
      instances: 3,
      constraints: [["hostname", "UNIQUE"]],
    });
    const queue = await waitFor("the queue to explain", async () => {
      const q = (
        await cluster.api<{
          queue: { app: { id: string }; count: number; processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number }[] } }[];
        }>("GET", `${c()}/v2/queue`)
      ).queue;
      const entry = q.find((e) => e.app.id === "/uniq");
      return entry && (await tasks("/uniq")).filter((t) => t.state === "TASK_RUNNING").length === 2 ? entry : undefined;
    });
    expect(queue.count).toBe(1);
    // Marathon's reason name in the queue; DCX's own words in the deployment's `waiting`.
    expect(queue.processedOffersSummary.rejectSummaryLastOffers.find((r) => r.reason === "UnfulfilledConstraint")?.declined).toBe(2);
    const deployments = await cluster.api<{ waiting: { reasons: Record<string, number> } }[]>("GET", `${c()}/v2/deployments?embed=waiting`);
    expect(deployments.length).toBe(1);
    expect(Object.keys(deployments[0]?.waiting.reasons ?? {}).join(", ")).toContain("UNIQUE");
    await cluster.api("DELETE", `${c()}/v2/apps/uniq?force=true`);
    await waitFor("uniq's processes to end", () => (processesWith("dcx-e2e-uniq").length === 0 ? true : undefined), 30_000, 200);
  });
});
