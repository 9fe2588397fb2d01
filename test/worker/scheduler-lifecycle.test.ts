import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { call, joinAgent, signUp } from "./helpers.ts";
import { Framework, launch, scalar, schedulerPath, stub, timePasses } from "./scheduler-helpers.ts";

const AGENT = { resources: { cpus: 4, mem: 4096, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };

/** A framework with one task running on a fresh agent. */
async function running(info: Record<string, unknown> = {}) {
  const account = await signUp();
  const agent = await joinAgent(account, AGENT);
  const fw = await Framework.subscribe(account, info);
  const [offer] = await fw.offers();
  await fw.call("ACCEPT", { accept: launch(offer!, "t1", { kill_policy: { grace_period: { nanoseconds: 7_000_000_000 } } }) });
  await agent.socket.nextOfType("launch");
  agent.socket.send({ type: "status", updates: [{ updateId: `r-${Math.random()}`, taskId: fw.taskId("t1"), state: "TASK_RUNNING", timestamp: Date.now() }] });
  const status = await fw.update();
  expect(status.state).toBe("TASK_RUNNING");
  return { account, agent, fw, status };
}

describe("KILL and RECONCILE", () => {
  it("kills with the task's kill policy grace, answers unknown tasks TASK_LOST, reconciles explicitly and implicitly", async () => {
    const { agent, fw, status } = await running();
    await fw.call("ACKNOWLEDGE", { acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } });
    await fw.call("RECONCILE", { reconcile: { tasks: [] } });
    const implicit = await fw.update();
    expect(implicit).toMatchObject({ task_id: { value: "t1" }, state: "TASK_RUNNING", reason: "REASON_RECONCILIATION", source: "SOURCE_MASTER" });
    expect(implicit.uuid).toBeUndefined();
    await fw.call("RECONCILE", { reconcile: { tasks: [{ task_id: { value: "ghost" } }] } });
    expect(await fw.update()).toMatchObject({ task_id: { value: "ghost" }, state: "TASK_LOST" });
    await fw.call("KILL", { kill: { task_id: { value: "ghost" } } });
    expect(await fw.update()).toMatchObject({ task_id: { value: "ghost" }, state: "TASK_LOST" });
    expect((await fw.call("KILL", { kill: { task_id: { value: "t1" } } })).status).toBe(202);
    const kill = await agent.socket.nextOfType<{ taskIds: string[]; gracePeriodMs: number }>("kill");
    expect(kill).toMatchObject({ taskIds: [fw.taskId("t1")], gracePeriodMs: 7000 });
    agent.socket.send({ type: "status", updates: [{ updateId: "k1", taskId: fw.taskId("t1"), state: "TASK_KILLED", timestamp: Date.now() }] });
    expect(await fw.update()).toMatchObject({ task_id: { value: "t1" }, state: "TASK_KILLED" });
    await fw.disconnect();
  });

  it("finds a task launched before ids were scoped per framework by its bare id: RECONCILE and KILL reach it", async () => {
    const { account, agent, fw } = await running();
    // Such a task's row is named by the framework's id alone, as its agent knows it.
    await runInDurableObject(stub(account), (_: Cluster, state) => {
      state.storage.sql.exec("UPDATE tasks SET id = 't1' WHERE id = ?", fw.taskId("t1"));
    });
    await fw.call("RECONCILE", { reconcile: { tasks: [{ task_id: { value: "t1" } }] } });
    expect(await fw.update()).toMatchObject({ task_id: { value: "t1" }, state: "TASK_RUNNING" });
    expect((await fw.call("KILL", { kill: { task_id: { value: "t1" } } })).status).toBe(202);
    expect((await agent.socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual(["t1"]);
    await fw.disconnect();
  });

  it("starts a LAUNCH_GROUP's tasks together and kills them together", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    const task = (id: string) => ({
      name: id,
      task_id: { value: id },
      agent_id: offer!.agent_id,
      resources: [scalar("cpus", 0.1), scalar("mem", 32)],
      command: { value: "sleep 600" },
    });
    const group = {
      type: "LAUNCH_GROUP",
      launch_group: { executor: { type: "DEFAULT", executor_id: { value: "x" } }, task_group: { tasks: [task("g1"), task("g2")] } },
    };
    await fw.call("ACCEPT", { accept: { offer_ids: [offer!.id], operations: [group] } });
    const frame = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    expect(frame.tasks.map((t) => t.taskId)).toEqual([fw.taskId("g1"), fw.taskId("g2")]);
    await fw.call("KILL", { kill: { task_id: { value: "g2" } } });
    const kill = await socket.nextOfType<{ taskIds: string[] }>("kill");
    expect(kill.taskIds.sort()).toEqual([fw.taskId("g1"), fw.taskId("g2")]);
    await fw.disconnect();
  });

  it("a task launched with every default has no framework_tasks row, and a KILL's kill_policy still sets its grace", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    const task = (id: string, extra: Record<string, unknown> = {}) => ({
      name: id,
      task_id: { value: id },
      agent_id: offer!.agent_id,
      resources: [scalar("cpus", 0.1), scalar("mem", 32)],
      command: { value: "sleep 600" },
      ...extra,
    });
    const graced = task("graced", { kill_policy: { grace_period: { nanoseconds: 9_000_000_000 } } });
    await fw.call("ACCEPT", {
      accept: { offer_ids: [offer!.id], operations: [{ type: "LAUNCH", launch: { task_infos: [task("plain"), task("later"), graced] } }] },
    });
    await socket.nextOfType("launch");
    const rows = await runInDurableObject(stub(account), (_: Cluster, state) =>
      state.storage.sql.exec<{ task_id: string }>("SELECT task_id FROM framework_tasks ORDER BY task_id").toArray(),
    );
    expect(rows.map((r) => r.task_id)).toEqual([fw.taskId("graced")]);
    await fw.call("KILL", { kill: { task_id: { value: "plain" } } });
    expect(await socket.nextOfType("kill")).toMatchObject({ taskIds: [fw.taskId("plain")], gracePeriodMs: 3000 });
    await fw.call("KILL", { kill: { task_id: { value: "graced" } } });
    expect(await socket.nextOfType("kill")).toMatchObject({ taskIds: [fw.taskId("graced")], gracePeriodMs: 9000 });
    await fw.call("KILL", { kill: { task_id: { value: "later" }, kill_policy: { grace_period: { nanoseconds: 5_000_000_000 } } } });
    expect(await socket.nextOfType("kill")).toMatchObject({ taskIds: [fw.taskId("later")], gracePeriodMs: 5000 });
    await fw.disconnect();
  });
});

describe("failover", () => {
  it("a framework that subscribes again with its id keeps its tasks, gets its unacknowledged updates, and its old stream id is refused", async () => {
    const { account, fw, status } = await running({ failover_timeout: 3600 });
    await fw.disconnect();
    // The Worker notices at its next heartbeat write (1 s in tests).
    await new Promise((r) => setTimeout(r, 1500));
    const again = await Framework.subscribe(account, { id: { value: fw.frameworkId }, failover_timeout: 3600 });
    expect(again.frameworkId).toBe(fw.frameworkId);
    const resent = await again.update();
    expect(resent.uuid).toBe(status.uuid);
    expect((await fw.call("REVIVE")).status).toBe(403);
    expect((await again.call("REVIVE")).status).toBe(202);
    const state = await call(`/c/${account.cluster.id}/master/tasks`, { token: account.token });
    expect(JSON.stringify(await state.json())).toContain('"t1"');
    await again.disconnect();
  });

  it("a new subscription of the same framework closes the old stream", async () => {
    const { account, fw } = await running({ failover_timeout: 3600 });
    const again = await Framework.subscribe(account, { id: { value: fw.frameworkId }, failover_timeout: 3600 });
    await expect(fw.next("NEVER", 3000)).rejects.toThrow(/stream ended/);
    await again.disconnect();
  });

  it("a framework gone past its failover_timeout is torn down: its tasks are killed, its id answers ERROR", async () => {
    const { account, agent, fw } = await running({ failover_timeout: 60 });
    await fw.disconnect();
    await new Promise((r) => setTimeout(r, 1500));
    await timePasses(account);
    const kill = await agent.socket.nextOfType<{ taskIds: string[] }>("kill");
    expect(kill.taskIds).toEqual([fw.taskId("t1")]);
    const res = await call(schedulerPath(account), {
      method: "POST",
      token: account.token,
      json: { type: "SUBSCRIBE", subscribe: { framework_info: { user: "", name: "x", id: { value: fw.frameworkId } } } },
    });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('"type":"ERROR"');
    expect(body).toContain("has been removed");
  });

  it("TEARDOWN kills every task, ends the stream and refuses later calls", async () => {
    const { agent, fw } = await running();
    expect((await fw.call("TEARDOWN")).status).toBe(202);
    const kill = await agent.socket.nextOfType<{ taskIds: string[] }>("kill");
    expect(kill.taskIds).toEqual([fw.taskId("t1")]);
    await expect(fw.next("NEVER", 3000)).rejects.toThrow(/stream ended/);
    expect((await fw.call("REVIVE")).status).toBe(403);
  });
});

describe("UPDATE_FRAMEWORK", () => {
  it("answers 200 and changes the framework, but refuses a new user or principal", async () => {
    const account = await signUp();
    const fw = await Framework.subscribe(account, { user: "alice", name: "before" });
    const info = { id: { value: fw.frameworkId }, user: "alice", name: "after" };
    expect((await fw.call("UPDATE_FRAMEWORK", { update_framework: { framework_info: info } })).status).toBe(200);
    const frameworks = await call(`/c/${account.cluster.id}/api/v1/scheduler`, {
      method: "POST",
      token: account.token,
      json: { type: "UPDATE_FRAMEWORK", framework_id: { value: fw.frameworkId }, update_framework: { framework_info: { ...info, user: "root" } } },
      headers: { "Mesos-Stream-Id": fw.streamId },
    });
    expect(frameworks.status).toBe(400);
    expect(((await frameworks.json()) as { message: string }).message).toContain("user");
    await fw.disconnect();
  });
});

describe("tenancy", () => {
  it("a framework never sees another cluster's agents, and its ids mean nothing in another cluster", async () => {
    const a = await signUp();
    const b = await signUp();
    const { agentId } = await joinAgent(a, AGENT);
    const fwB = await Framework.subscribe(b);
    expect(await fwB.within("OFFERS", 400)).toEqual([]);
    const fwA = await Framework.subscribe(a);
    const [offer] = await fwA.offers();
    expect(offer?.agent_id.value).toBe(agentId);
    // A's framework id and stream id, sent to B's cluster (with B's token): refused.
    const res = await call(schedulerPath(b), {
      method: "POST",
      token: b.token,
      headers: { "Mesos-Stream-Id": fwA.streamId },
      json: { type: "ACCEPT", framework_id: { value: fwA.frameworkId }, accept: launch(offer!, "x") },
    });
    expect(res.status).toBe(403);
    // A's token on B's cluster: not a member.
    expect(
      (await call(schedulerPath(b), { method: "POST", token: a.token, json: { type: "SUBSCRIBE", subscribe: { framework_info: { user: "", name: "x" } } } }))
        .status,
    ).toBe(404);
    await fwA.disconnect();
    await fwB.disconnect();
  });
});

describe("agent loss", () => {
  it("sends FAILURE for the lost agent and its tasks' TASK_UNREACHABLE to a partition-aware framework", async () => {
    const { account, agent, fw, status } = await running({ capabilities: [{ type: "PARTITION_AWARE" }] });
    // Updates of a task go out one at a time: the next waits for this one's ACKNOWLEDGE.
    await fw.call("ACKNOWLEDGE", { acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } });
    agent.socket.ws.close(1000, "bye");
    await agent.socket.waitClosed();
    const agentState = async () =>
      ((await (await call(`/c/${account.cluster.id}/agents/${agent.agentId}`, { token: account.token })).json()) as { agent: { state: string } }).agent.state;
    await expect.poll(agentState).toBe("disconnected");
    await runInDurableObject(stub(account), (_: Cluster, state) => {
      state.storage.sql.exec("UPDATE agents SET disconnected_at = disconnected_at - 10000");
      state.storage.sql.exec("UPDATE timers SET due_at = 1");
    });
    await runDurableObjectAlarm(stub(account));
    const failure = await fw.next("FAILURE");
    expect(failure.failure).toEqual({ agent_id: { value: agent.agentId } });
    expect(await fw.update()).toMatchObject({ task_id: { value: "t1" }, state: "TASK_UNREACHABLE" });
    await fw.disconnect();
  });
});
