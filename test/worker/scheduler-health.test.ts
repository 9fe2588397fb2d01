import { describe, expect, it } from "vitest";
import { joinAgent, signUp } from "./helpers.ts";
import { Framework, launch, scalar, type TaskStatus } from "./scheduler-helpers.ts";

const AGENT = { resources: { cpus: 4, mem: 4096, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };
const PORTS = { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 31000 }] } };

interface LaunchFrame {
  tasks: { taskId: string; healthChecks?: Record<string, unknown>[] }[];
}

/** Acknowledges an update, so the task's next one goes out. */
async function ack(fw: Framework, s: TaskStatus): Promise<void> {
  expect((await fw.call("ACKNOWLEDGE", { acknowledge: { agent_id: s.agent_id, task_id: s.task_id, uuid: s.uuid } })).status).toBe(202);
}

describe("TaskInfo.health_check", () => {
  it("runs on the agent's HTTP probe; results reach the framework as TASK_RUNNING with healthy; consecutive_failures kill the task", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    const health_check = {
      type: "HTTP",
      http: { port: 31000, path: "/health" },
      interval_seconds: 2,
      timeout_seconds: 1,
      delay_seconds: 0,
      grace_period_seconds: 0,
      consecutive_failures: 2,
    };
    const accept = launch(offer!, "web-1", { resources: [scalar("cpus", 0.5), scalar("mem", 64), PORTS], health_check });
    expect((await fw.call("ACCEPT", { accept })).status).toBe(202);
    const frame = await socket.nextOfType<LaunchFrame>("launch");
    expect(frame.tasks[0]?.healthChecks).toEqual([
      { protocol: "HTTP", port: 31000, path: "/health", ignoreHttp1xx: false, ipProtocol: "IPv4", intervalMs: 2000, timeoutMs: 1000, delayMs: 0 },
    ]);
    const t0 = Date.now();
    socket.send({ type: "status", updates: [{ updateId: "u1", taskId: fw.taskId("web-1"), state: "TASK_RUNNING", timestamp: t0 }] });
    const running = await fw.update();
    expect(running).toMatchObject({ state: "TASK_RUNNING" });
    expect(running).not.toHaveProperty("healthy");
    await ack(fw, running);
    socket.send({ type: "status", updates: [{ updateId: "u2", taskId: fw.taskId("web-1"), state: "TASK_RUNNING", healthy: true, timestamp: t0 + 1 }] });
    const healthy = await fw.update();
    expect(healthy).toMatchObject({ state: "TASK_RUNNING", healthy: true, reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", source: "SOURCE_EXECUTOR" });
    await ack(fw, healthy);
    socket.send({
      type: "status",
      updates: [{ updateId: "u3", taskId: fw.taskId("web-1"), state: "TASK_RUNNING", healthy: false, message: "HTTP 500", timestamp: t0 + 2 }],
    });
    const sick = await fw.update();
    expect(sick).toMatchObject({ state: "TASK_RUNNING", healthy: false, reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED" });
    await ack(fw, sick);
    socket.send({
      type: "status",
      updates: [{ updateId: "u4", taskId: fw.taskId("web-1"), state: "TASK_RUNNING", healthy: false, message: "HTTP 500", timestamp: t0 + 3 }],
    });
    expect(await fw.update()).toMatchObject({ healthy: false });
    // The second failure in a row reaches consecutive_failures: the master kills the task.
    const kill = await socket.nextOfType<{ taskIds: string[] }>("kill");
    expect(kill.taskIds).toEqual([fw.taskId("web-1")]);
    await fw.disconnect();
  });

  it("maps COMMAND and BRIDGE-mapped checks, ignores failures in the grace period, and refuses a check of a port the task does not hold", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, { ...AGENT, attributes: { docker: "27.0" } });
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    const command = { type: "COMMAND", command: { value: "test -f ready" }, interval_seconds: 5, grace_period_seconds: 600 };
    const bridged = { type: "TCP", tcp: { port: 8080 } };
    const docker = { type: "DOCKER", docker: { image: "nginx", network: "BRIDGE", port_mappings: [{ host_port: 31000, container_port: 8080 }] } };
    const accept = launch(offer!, "cmd-1", { health_check: command });
    const tasks = accept.operations[0]!.launch.task_infos;
    tasks.push({
      ...tasks[0]!,
      name: "web",
      task_id: { value: "web-2" },
      resources: [scalar("cpus", 0.5), scalar("mem", 64), PORTS],
      container: docker,
      health_check: bridged,
    } as (typeof tasks)[number]);
    tasks.push({ ...tasks[0]!, name: "bad", task_id: { value: "bad-1" }, health_check: { type: "HTTP", http: { port: 22 } } } as (typeof tasks)[number]);
    expect((await fw.call("ACCEPT", { accept })).status).toBe(202);
    const refused = await fw.update();
    expect(refused).toMatchObject({ task_id: { value: "bad-1" }, state: "TASK_ERROR", reason: "REASON_TASK_INVALID" });
    expect(refused.message).toContain("health_check.http.port 22");
    const frame = await socket.nextOfType<LaunchFrame>("launch");
    const checks = Object.fromEntries(frame.tasks.map((t) => [t.taskId, t.healthChecks]));
    expect(checks[fw.taskId("cmd-1")]).toEqual([{ protocol: "COMMAND", command: "test -f ready", intervalMs: 5000, timeoutMs: 20_000, delayMs: 15_000 }]);
    expect(checks[fw.taskId("web-2")]).toEqual([expect.objectContaining({ protocol: "TCP", port: 31000 })]);
    const t0 = Date.now();
    socket.send({ type: "status", updates: [{ updateId: "c1", taskId: fw.taskId("cmd-1"), state: "TASK_RUNNING", timestamp: t0 }] });
    await ack(fw, await fw.update());
    // Failing before its first success, inside its 600 s grace period: nothing to tell, nothing to kill.
    socket.send({ type: "status", updates: [{ updateId: "c2", taskId: fw.taskId("cmd-1"), state: "TASK_RUNNING", healthy: false, timestamp: t0 + 1 }] });
    expect(await fw.within("UPDATE", 300)).toEqual([]);
    await fw.disconnect();
  });
});
