import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Cluster } from "../../control/cluster/cluster.ts";
import { type CallResult, OFFER_ANSWER_ROUND_MS, type SchedulerCallQueue } from "../../control/cluster/frameworks/external/call-queue.ts";
import { ROUND_COALESCE_MS } from "../../control/cluster/coordinator.ts";
import { ALLOCATE_TIMER, cancelTimer } from "../../control/cluster/timers.ts";
import { pendingUpdateCount } from "../../control/cluster/frameworks/external/updates.ts";
import { type Account, joinAgent, signUp } from "./helpers.ts";
import { Framework, launch, type Offer, stub, type TaskStatus } from "./scheduler-helpers.ts";

/**
 * Scheduler calls that reach the Cluster object together share one transaction
 * (frameworks/external/call-queue.ts), yet each keeps its own answer and its own errors.
 */

const AGENT = { resources: { cpus: 2, mem: 2048, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };

/**
 * Runs the calls inside the object in one turn, as concurrent requests reaching it together do:
 * their results, and how many transactions the scheduler calls took.
 */
async function together(account: Account, calls: { call: Record<string, unknown>; streamId: string }[]) {
  return runInDurableObject(stub(account), async (instance: Cluster) => {
    const queue = (instance as unknown as { schedulerCalls: SchedulerCallQueue }).schedulerCalls;
    const before = queue.transactions;
    const results: CallResult[] = await Promise.all(calls.map((c) => instance.schedulerCall(JSON.stringify(c.call), c.streamId)));
    return { results, transactions: queue.transactions - before };
  });
}

/**
 * Runs the calls together with no round asked for before them: the round's timer as they left
 * it (null: none), with the clock read before and after them (the batch's own clock lies between).
 */
async function roundAfter(account: Account, calls: { call: Record<string, unknown>; streamId: string }[]) {
  return runInDurableObject(stub(account), async (instance: Cluster) => {
    const { db } = instance as unknown as { db: Parameters<typeof cancelTimer>[0] };
    cancelTimer(db, ALLOCATE_TIMER);
    const before = Date.now();
    const results = await Promise.all(calls.map((c) => instance.schedulerCall(JSON.stringify(c.call), c.streamId)));
    const after = Date.now();
    expect(results.every((r) => r.ok)).toBe(true);
    const due = db.$client.sql.exec<{ due_at: number }>("SELECT due_at FROM timers WHERE name = ?", ALLOCATE_TIMER).toArray()[0]?.due_at ?? null;
    return { due, before, after };
  });
}

/** Whether the round is due `delay` ms after the batch ran (between `before + delay` and `after + delay`, however loaded the machine). */
const dueAfter = (r: { due: number | null; before: number; after: number }, delay: number) =>
  r.due !== null && r.due >= r.before + delay && r.due <= r.after + delay;

const body = (fw: Framework, type: string, fields: Record<string, unknown>) => ({ type, framework_id: { value: fw.frameworkId }, ...fields });

/** Two agents, one framework holding an offer of each. */
async function twoOffers() {
  const account = await signUp();
  const agents = [await joinAgent(account, { ...AGENT, hostname: "node-1" }), await joinAgent(account, { ...AGENT, hostname: "node-2" })];
  const fw = await Framework.subscribe(account);
  const offers: Offer[] = [];
  while (offers.length < 2) offers.push(...(await fw.offers()));
  const byAgent = (i: number) => offers.find((o) => o.agent_id.value === agents[i]?.agentId) as Offer;
  return { account, agents, fw, offers: [byAgent(0), byAgent(1)] };
}

describe("scheduler calls that arrive together", () => {
  it("applies concurrent ACCEPTs in one transaction: the valid ones launch, a bad one gets its own TASK_DROPPED, a stale stream its own 403", async () => {
    const { account, agents, fw, offers } = await twoOffers();
    const [a, b] = offers as [Offer, Offer];
    const stale = { call: body(fw, "DECLINE", { decline: { offer_ids: [a.id] } }), streamId: "not-the-stream" };
    const { results, transactions } = await together(account, [
      { call: body(fw, "ACCEPT", { accept: launch(a, "on-a") }), streamId: fw.streamId },
      { call: body(fw, "ACCEPT", { accept: launch({ ...b, id: { value: "no-such-offer" } }, "dropped") }), streamId: fw.streamId },
      stale,
      { call: body(fw, "ACCEPT", { accept: launch(b, "on-b") }), streamId: fw.streamId },
    ]);
    expect(transactions).toBe(1);
    expect(results.map((r) => (r.ok ? r.value.status : r.code))).toEqual([202, 202, "forbidden", 202]);
    // The stale DECLINE was undone alone: offer a was still there for the ACCEPT after it, and both tasks launched.
    const launched = await Promise.all(agents.map((g) => g.socket.nextOfType<{ tasks: { taskId: string }[] }>("launch")));
    expect(launched.map((f) => f.tasks.map((t) => t.taskId))).toEqual([[fw.taskId("on-a")], [fw.taskId("on-b")]]);
    expect(await fw.update()).toMatchObject({ task_id: { value: "dropped" }, state: "TASK_DROPPED", reason: "REASON_INVALID_OFFERS" });
    // An offer is used once, batched or not: accepting a again in a later batch drops its task.
    const again = await together(account, [{ call: body(fw, "ACCEPT", { accept: launch(a, "twice") }), streamId: fw.streamId }]);
    expect(again.results[0]?.ok).toBe(true);
    expect(await fw.update()).toMatchObject({ task_id: { value: "twice" }, state: "TASK_DROPPED" });
    await fw.disconnect();
  });

  it("records concurrent ACKNOWLEDGEs in one transaction, each answered, a malformed one refused alone", async () => {
    const { account, agents, fw, offers } = await twoOffers();
    const [a] = offers as [Offer];
    const ids = ["t1", "t2", "t3"];
    const tasks = ids.map((id) => launch(a, id).operations[0]?.launch.task_infos[0]);
    const accept = { offer_ids: [a.id], operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }] };
    expect((await fw.call("ACCEPT", { accept })).status).toBe(202);
    const socket = agents[0]?.socket;
    await socket?.nextOfType("launch");
    socket?.send({ type: "status", updates: ids.map((id, i) => ({ updateId: `u${i}`, taskId: fw.taskId(id), state: "TASK_RUNNING", timestamp: Date.now() })) });
    const updates: TaskStatus[] = [];
    for (const _ of ids) updates.push(await fw.update());
    expect(updates.map((u) => u.state)).toEqual(["TASK_RUNNING", "TASK_RUNNING", "TASK_RUNNING"]);
    const ack = (u: TaskStatus, uuid = u.uuid) => ({
      call: body(fw, "ACKNOWLEDGE", { acknowledge: { agent_id: u.agent_id, task_id: u.task_id, uuid } }),
      streamId: fw.streamId,
    });
    const { results, transactions } = await together(account, [
      ...updates.slice(0, 2).map((u) => ack(u)),
      ack(updates[2] as TaskStatus, "not base64!"),
      ack(updates[2] as TaskStatus),
    ]);
    expect(transactions).toBe(1);
    expect(results.map((r) => (r.ok ? r.value.status : r.code))).toEqual([202, 202, "malformed", 202]);
    const pending = await runInDurableObject(stub(account), (instance: Cluster) =>
      pendingUpdateCount((instance as unknown as { db: Parameters<typeof pendingUpdateCount>[0] }).db, fw.frameworkId),
    );
    expect(pending).toBe(0);
    await fw.disconnect();
  });

  it("looks an acknowledgement's framework up again after another call of its batch: a TEARDOWN between acks refuses those after it", async () => {
    const { account, agents, fw, offers } = await twoOffers();
    const [a] = offers as [Offer];
    const ids = ["k1", "k2", "k3"];
    const tasks = ids.map((id) => launch(a, id).operations[0]?.launch.task_infos[0]);
    expect((await fw.call("ACCEPT", { accept: { offer_ids: [a.id], operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }] } })).status).toBe(202);
    const socket = agents[0]?.socket;
    await socket?.nextOfType("launch");
    socket?.send({ type: "status", updates: ids.map((taskId, i) => ({ updateId: `k${i}`, taskId, state: "TASK_RUNNING", timestamp: Date.now() })) });
    const updates: TaskStatus[] = [];
    for (const _ of ids) updates.push(await fw.update());
    const ack = (u: TaskStatus, streamId = fw.streamId) => ({
      call: body(fw, "ACKNOWLEDGE", { acknowledge: { agent_id: u.agent_id, task_id: u.task_id, uuid: u.uuid } }),
      streamId,
    });
    const [u1, u2, u3] = updates as [TaskStatus, TaskStatus, TaskStatus];
    const { results, transactions } = await together(account, [
      ack(u1),
      // The same framework from a stale stream: refused alone, though its framework was just looked up.
      ack(u2, "not-the-stream"),
      ack(u2),
      { call: body(fw, "TEARDOWN", {}), streamId: fw.streamId },
      ack(u3),
    ]);
    expect(transactions).toBe(1);
    expect(results.map((r) => (r.ok ? r.value.status : r.code))).toEqual([202, "forbidden", 202, 202, "forbidden"]);
  });

  it("answers every one of many concurrent HTTP calls, each with its own outcome", async () => {
    const { fw, offers, agents } = await twoOffers();
    const [a, b] = offers as [Offer, Offer];
    const responses = await Promise.all([
      fw.call("ACCEPT", { accept: launch(a, "http-a") }),
      fw.call("ACCEPT", { accept: launch(b, "http-b") }),
      fw.call("ACCEPT", { accept: launch(b, "http-used") }),
      fw.call("DECLINE", { decline: { offer_ids: [a.id] } }, { "Mesos-Stream-Id": "stale" }),
      fw.call("REVIVE"),
    ]);
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 403, 202]);
    const launched = await Promise.all(agents.map((g) => g.socket.nextOfType<{ tasks: { taskId: string }[] }>("launch")));
    // Two ACCEPTs of offer b: concurrent requests reach the object in no set order, and whichever
    // comes first uses the offer; the other's task is dropped, alone.
    const [onA, onB] = launched.map((f) => f.tasks.map((t) => t.taskId));
    expect(onA).toEqual([fw.taskId("http-a")]);
    expect(onB?.length).toBe(1);
    expect([fw.taskId("http-b"), fw.taskId("http-used")]).toContain(onB?.[0]);
    const dropped = onB?.[0] === fw.taskId("http-b") ? "http-used" : "http-b";
    expect(await fw.update()).toMatchObject({ task_id: { value: dropped }, state: "TASK_DROPPED" });
    await fw.disconnect();
  });

  it("writes a status frame's updates together, yet sends a task's second update only once its first is acknowledged", async () => {
    const { account, agents, fw, offers } = await twoOffers();
    const [a] = offers as [Offer];
    const tasks = ["x", "y"].map((id) => launch(a, id).operations[0]?.launch.task_infos[0]);
    await fw.call("ACCEPT", { accept: { offer_ids: [a.id], operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }] } });
    const socket = agents[0]?.socket;
    await socket?.nextOfType("launch");
    const at = Date.now();
    socket?.send({
      type: "status",
      updates: [
        { updateId: "x1", taskId: fw.taskId("x"), state: "TASK_RUNNING", timestamp: at },
        { updateId: "x2", taskId: fw.taskId("x"), state: "TASK_FINISHED", timestamp: at },
        { updateId: "y1", taskId: fw.taskId("y"), state: "TASK_RUNNING", timestamp: at },
      ],
    });
    const first = [await fw.update(), await fw.update()];
    expect(first.map((u) => [u.task_id.value, u.state])).toEqual([
      ["x", "TASK_RUNNING"],
      ["y", "TASK_RUNNING"],
    ]);
    expect(await fw.within("UPDATE", 300)).toEqual([]);
    const x = first[0] as TaskStatus;
    await fw.call("ACKNOWLEDGE", { acknowledge: { agent_id: x.agent_id, task_id: x.task_id, uuid: x.uuid } });
    const finished = await fw.update();
    expect(finished).toMatchObject({ task_id: { value: "x" }, state: "TASK_FINISHED" });
    // Its last update acknowledged, nothing of x follows; y's TASK_RUNNING is still owed, and an unknown uuid changes nothing.
    expect((await fw.call("ACKNOWLEDGE", { acknowledge: { agent_id: x.agent_id, task_id: x.task_id, uuid: finished.uuid } })).status).toBe(202);
    expect((await fw.call("ACKNOWLEDGE", { acknowledge: { agent_id: x.agent_id, task_id: x.task_id, uuid: x.uuid } })).status).toBe(202);
    expect(await fw.within("UPDATE", 300)).toEqual([]);
    const pending = await runInDurableObject(stub(account), (instance: Cluster) =>
      pendingUpdateCount((instance as unknown as { db: Parameters<typeof pendingUpdateCount>[0] }).db, fw.frameworkId),
    );
    expect(pending).toBe(1);
    await fw.disconnect();
  });

  it("asks for the round after answers to offers OFFER_ANSWER_ROUND_MS later, after any other call as soon as usual, after acknowledgements not at all", async () => {
    const { account, fw, offers } = await twoOffers();
    const [a, b] = offers as [Offer, Offer];
    const call = (type: string, fields: Record<string, unknown>) => ({ call: body(fw, type, fields), streamId: fw.streamId });
    const ack = call("ACKNOWLEDGE", { acknowledge: { agent_id: a.agent_id, task_id: { value: "none" }, uuid: "AAAAAAAAAAAAAAAAAAAAAA==" } });
    // Nothing asks for a round soon (one asked for meanwhile by other work would be seconds away: an offer's expiry, a filter's end).
    const acked = await roundAfter(account, [ack]);
    expect(acked.due === null || acked.due > acked.after + 2 * OFFER_ANSWER_ROUND_MS).toBe(true);
    // A burst of answers: what they free is for the other frameworks, at the next coalesced round.
    const answers = await roundAfter(account, [
      call("ACCEPT", { accept: { ...launch(a, "answer"), filters: { refuse_seconds: 3600 } } }),
      call("DECLINE", { decline: { offer_ids: [b.id], filters: { refuse_seconds: 3600 } } }),
      ack,
    ]);
    expect(dueAfter(answers, OFFER_ANSWER_ROUND_MS)).toBe(true);
    // A REVIVE among them wants its offers at the usual pace.
    const revived = await roundAfter(account, [call("DECLINE", { decline: { offer_ids: [] } }), call("REVIVE", {})]);
    expect(dueAfter(revived, ROUND_COALESCE_MS)).toBe(true);
    await fw.disconnect();
  });
});
