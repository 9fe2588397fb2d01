import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";

interface Task {
  id: string;
  host: string;
  slaveId: string;
  state: string;
}

const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "echo-server.mjs");
const MARKER = "dcx-e2e-survivor";

/** The task servers themselves (each task also has a wrapper shell whose arguments hold the marker). */
function liveProcesses(): number {
  const out = execFileSync("ps", ["-eo", "stat=,args="], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes(MARKER) && /^\s*[^Z\s]\S*\s+node\s/.test(l)).length;
}

/**
 * Agent loss end to end: a task's agent is SIGKILLed (its task keeps running, as on a
 * partitioned machine); after the timeout the task is unreachable and replaced on the other
 * agent; when the agent comes back, the master kills the task it no longer counts.
 */
describe("agent loss", () => {
  const cluster = new TestCluster();
  const tasks = async () => (await cluster.api<{ tasks: Task[] }>("GET", `/c/${cluster.clusterId}/v2/apps/survivor/tasks`)).tasks;
  const resources = "cpus:1;mem:512;disk:512;ports:[31000-31099]";

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
    const token = await cluster.joinToken();
    cluster.startAgent("a", { token, hostname: "node-a", advertiseIp: "127.0.0.2", resources });
    cluster.startAgent("b", { token, hostname: "node-b", advertiseIp: "127.0.0.3", resources: resources.replace("31000-31099", "31100-31199") });
    await waitFor("two agents", async () =>
      (await cluster.api<{ slaves: unknown[] }>("GET", `/c/${cluster.clusterId}/master/slaves`)).slaves.length === 2 ? true : undefined,
    );
  });
  afterAll(() => cluster.stop());

  it("replaces the task of an unreachable agent, and kills the orphan when the agent returns", async () => {
    await cluster.api("POST", `/c/${cluster.clusterId}/v2/apps`, { id: "/survivor", cmd: `exec node ${FIXTURE} ${MARKER}`, cpus: 0.1, mem: 32 });
    const [first] = await waitFor("the task to run", async () => {
      const t = await tasks();
      return t.length === 1 && t[0]?.state === "TASK_RUNNING" ? t : undefined;
    });
    const index = first?.host === "node-a" ? 0 : 1;
    const lostAgent = cluster.agents[index];
    await lostAgent?.stop("SIGKILL");
    const replacement = await waitFor(
      "a replacement on the other agent",
      async () => {
        const t = await tasks();
        return t.length === 1 && t[0]?.id !== first?.id && t[0]?.state === "TASK_RUNNING" ? t[0] : undefined;
      },
      30_000,
      200,
    );
    expect(replacement.slaveId).not.toBe(first?.slaveId);
    // The old task kept running without its agent: two processes now.
    expect(liveProcesses()).toBe(2);
    cluster.startAgent(index === 0 ? "a" : "b", { hostname: first?.host, advertiseIp: index === 0 ? "127.0.0.2" : "127.0.0.3", resources });
    await waitFor("the orphan to be killed", () => (liveProcesses() === 1 ? true : undefined), 30_000, 200);
    const after = await tasks();
    expect(after.map((t) => t.id)).toEqual([replacement.id]);
  });
});
