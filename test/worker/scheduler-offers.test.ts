import { describe, expect, it } from "vitest";
import { call, joinAgent, signUp } from "./helpers.ts";
import { Framework, launch, offered, scalar, timePasses } from "./scheduler-helpers.ts";

const AGENT = { resources: { cpus: 2, mem: 2048, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };

describe("offers are exclusive", () => {
  it("offers an agent to one framework at a time, and Marathon does not place on offered resources until they are declined", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const a = await Framework.subscribe(account, { name: "a" });
    const [offer] = await a.offers();
    const b = await Framework.subscribe(account, { name: "b" });
    expect(await b.within("OFFERS", 300)).toEqual([]);
    const app = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/web", cmd: "sleep 600", cpus: 1, mem: 64 },
    });
    expect(app.status).toBe(201);
    expect(await socket.framesWithin<{ type: string }>(300).then((f) => f.filter((x) => x.type === "launch"))).toEqual([]);
    expect((await a.call("DECLINE", { decline: { offer_ids: [offer!.id], filters: { refuse_seconds: 60 } } })).status).toBe(202);
    // Marathon places first (its request), and what remains goes to b, not to a (it declined for 60 s).
    const frame = await socket.nextOfType<{ tasks: { name: string }[] }>("launch");
    expect(frame.tasks[0]?.name).toBe("web");
    const [rest] = await b.offers();
    expect(offered(rest!, "cpus")).toBe(1);
    expect(await a.within("OFFERS", 300)).toEqual([]);
    await a.disconnect();
    await b.disconnect();
  });

  it("rescinds offers that expire, and offers again", async () => {
    const account = await signUp();
    await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    await timePasses(account);
    const rescind = await fw.next("RESCIND");
    expect((rescind.rescind as { offer_id: { value: string } }).offer_id).toEqual(offer!.id);
    const [again] = await fw.offers();
    expect(again?.id).not.toEqual(offer!.id);
    // The rescinded offer is gone: accepting it drops the task.
    await fw.call("ACCEPT", { accept: launch(offer!, "late") });
    const status = await fw.update();
    expect(status).toMatchObject({ state: "TASK_DROPPED", reason: "REASON_INVALID_OFFERS", task_id: { value: "late" } });
    await fw.disconnect();
  });
});

describe("bad ACCEPTs", () => {
  it("answers unknown or used offers with TASK_DROPPED and invalid tasks with TASK_ERROR, leaving nothing half-done", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    const greedy = launch(offer!, "greedy", { resources: [scalar("cpus", 3), scalar("mem", 64)] });
    const executor = launch(offer!, "exec", { executor: { executor_id: { value: "e" }, type: "CUSTOM" } });
    const gpu = launch(offer!, "odd", { resources: [scalar("cpus", 0.1), { name: "bananas", type: "SCALAR", scalar: { value: 1 } }] });
    const badPort = launch(offer!, "port", {
      resources: [scalar("cpus", 0.1), scalar("mem", 32), { name: "ports", type: "RANGES", ranges: { range: [{ begin: 80, end: 80 }] } }],
    });
    const ok = launch(offer!, "fine");
    const operations = [...greedy.operations, ...executor.operations, ...gpu.operations, ...badPort.operations, ...ok.operations];
    expect((await fw.call("ACCEPT", { accept: { offer_ids: [offer!.id], operations } })).status).toBe(202);
    const statuses = new Map<string, { state: string; message?: string }>();
    for (let i = 0; i < 4; i++) {
      const s = await fw.update();
      statuses.set(s.task_id.value, s);
    }
    expect(statuses.get("greedy")).toMatchObject({ state: "TASK_ERROR" });
    expect(statuses.get("greedy")?.message).toContain("cpus");
    expect(statuses.get("exec")?.message).toContain("custom executors are not supported");
    expect(statuses.get("odd")?.message).toContain("bananas");
    expect(statuses.get("port")?.message).toContain("port 80");
    const frame = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    expect(frame.tasks.map((t) => t.taskId)).toEqual([fw.taskId("fine")]);
    // The offer is used: a second ACCEPT of it is dropped.
    await fw.call("ACCEPT", { accept: launch(offer!, "twice") });
    expect(await fw.update()).toMatchObject({ task_id: { value: "twice" }, state: "TASK_DROPPED" });
    // What the ACCEPT left is declined for the default 5 s: REVIVE clears that. A task id already in use is an error.
    await fw.call("REVIVE");
    const [next] = await fw.offers();
    await fw.call("ACCEPT", { accept: launch(next!, "fine") });
    const dup = await fw.update();
    expect(dup).toMatchObject({ task_id: { value: "fine" }, state: "TASK_ERROR" });
    expect(dup.message).toContain("already in use");
    await fw.disconnect();
  });

  it("counts every task of an ACCEPT against what its offers hold, across tasks and operations, in order", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    // 2 cpus offered: 0.75 + 0.75 fit in the first LAUNCH, 0.75 more does not (0.5 left); the
    // second LAUNCH starts from what the first left, so 0.5 fits and then nothing does.
    const task = (id: string, cpus: number) => launch(offer!, id, { resources: [scalar("cpus", cpus), scalar("mem", 64)] }).operations[0]?.launch.task_infos[0];
    const operations = [
      { type: "LAUNCH", launch: { task_infos: [task("a", 0.75), task("b", 0.75), task("too-many", 0.75)] } },
      { type: "LAUNCH", launch: { task_infos: [task("c", 0.5), task("none-left", 0.25)] } },
    ];
    expect((await fw.call("ACCEPT", { accept: { offer_ids: [offer!.id], operations } })).status).toBe(202);
    const errors = [await fw.update(), await fw.update()];
    expect(errors.map((u) => [u.task_id.value, u.state]).sort()).toEqual([
      ["none-left", "TASK_ERROR"],
      ["too-many", "TASK_ERROR"],
    ]);
    expect(errors.every((u) => u.message?.includes("than the offers have left"))).toBe(true);
    const frame = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    expect(frame.tasks.map((t) => t.taskId)).toEqual(["a", "b", "c"].map((id) => fw.taskId(id)));
    await fw.disconnect();
  });

  it("refuses operations it does not carry out, with a 400 that names them", async () => {
    const account = await signUp();
    await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    const res = await fw.call("ACCEPT", { accept: { offer_ids: [offer!.id], operations: [{ type: "RESERVE", reserve: { resources: [] } }] } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain("RESERVE");
    // Nothing was used: the offer still holds and can be accepted.
    expect((await fw.call("ACCEPT", { accept: launch(offer!, "t1") })).status).toBe(202);
    expect(await fw.within("UPDATE", 200)).toEqual([]);
    await fw.disconnect();
  });
});

describe("offers named by another framework", () => {
  it("an ACCEPT of another framework's offer drops its task, a DECLINE of it is ignored, and the offer stays its owner's", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const owner = await Framework.subscribe(account, { name: "owner" });
    const [offer] = await owner.offers();
    const other = await Framework.subscribe(account, { name: "other" });
    await other.call("ACCEPT", { accept: launch(offer!, "stolen") });
    expect(await other.update()).toMatchObject({ task_id: { value: "stolen" }, state: "TASK_DROPPED", reason: "REASON_INVALID_OFFERS" });
    expect((await other.call("DECLINE", { decline: { offer_ids: [offer!.id], filters: { refuse_seconds: 3600 } } })).status).toBe(202);
    expect((await owner.call("ACCEPT", { accept: launch(offer!, "mine") })).status).toBe(202);
    const frame = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    expect(frame.tasks.map((t) => t.taskId)).toEqual([owner.taskId("mine")]);
    await owner.disconnect();
    await other.disconnect();
  });
});

describe("task ids are the framework's own", () => {
  it("two frameworks both run task 0: each gets its own updates, kills only its own, and the state lists both as 0; one framework cannot reuse an id", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const a = await Framework.subscribe(account, { name: "a" });
    const [offerA] = await a.offers();
    // The leftover of a's offer is filtered for a (refuse_seconds), so b gets it next.
    expect((await a.call("ACCEPT", { accept: launch(offerA!, "0") })).status).toBe(202);
    const b = await Framework.subscribe(account, { name: "b" });
    const [offerB] = await b.offers();
    expect((await b.call("ACCEPT", { accept: launch(offerB!, "0") })).status).toBe(202);
    const frames = [await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch"), await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch")];
    expect(frames.map((f) => f.tasks[0]?.taskId)).toEqual([a.taskId("0"), b.taskId("0")]);
    socket.send({
      type: "status",
      updates: [a, b].map((fw, i) => ({ updateId: `run-${i}`, taskId: fw.taskId("0"), state: "TASK_RUNNING", timestamp: Date.now() })),
    });
    expect(await a.update()).toMatchObject({ task_id: { value: "0" }, state: "TASK_RUNNING" });
    expect(await b.update()).toMatchObject({ task_id: { value: "0" }, state: "TASK_RUNNING" });
    const state = await call(`/c/${account.cluster.id}/master/tasks`, { token: account.token });
    const listed = ((await state.json()) as { tasks: { id: string; framework_id: string }[] }).tasks;
    expect(
      listed
        .filter((t) => t.id === "0")
        .map((t) => t.framework_id)
        .sort(),
    ).toEqual([a.frameworkId, b.frameworkId].sort());
    // a's KILL of 0 reaches a's task alone.
    expect((await a.call("KILL", { kill: { task_id: { value: "0" } } })).status).toBe(202);
    expect((await socket.nextOfType<{ taskIds: string[] }>("kill")).taskIds).toEqual([a.taskId("0")]);
    // Within one framework an id is still one task's.
    await a.call("REVIVE");
    const [again] = await a.offers();
    expect((await a.call("ACCEPT", { accept: launch(again!, "0") })).status).toBe(202);
    expect(await a.update()).toMatchObject({ task_id: { value: "0" }, state: "TASK_ERROR", message: "Task ID 0 is already in use" });
    await a.disconnect();
    await b.disconnect();
  });
});

describe("filters, REVIVE and SUPPRESS", () => {
  it("one DECLINE of several agents' offers filters each of them until REVIVE", async () => {
    const account = await signUp();
    for (let i = 0; i < 3; i++) await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const offers = await fw.offers();
    expect(new Set(offers.map((o) => o.agent_id.value)).size).toBe(3);
    await fw.call("DECLINE", { decline: { offer_ids: offers.map((o) => o.id), filters: { refuse_seconds: 3600 } } });
    await timePasses(account);
    expect(await fw.within("OFFERS", 300)).toEqual([]);
    await fw.call("REVIVE");
    expect((await fw.offers()).map((o) => o.agent_id.value).sort()).toEqual(offers.map((o) => o.agent_id.value).sort());
    await fw.disconnect();
  });

  it("a declined agent is not offered again until REVIVE, which clears every filter; SUPPRESS stops offers until REVIVE", async () => {
    const account = await signUp();
    await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    await fw.call("DECLINE", { decline: { offer_ids: [offer!.id], filters: { refuse_seconds: 3600 } } });
    await fw.call("KILL", { kill: { task_id: { value: "nothing" } } }); // any call: rounds run, the filter holds
    expect(await fw.within("OFFERS", 300)).toEqual([]);
    await fw.call("REVIVE");
    const [revived] = await fw.offers();
    await fw.call("SUPPRESS");
    await fw.call("DECLINE", { decline: { offer_ids: [revived!.id], filters: { refuse_seconds: 0 } } });
    expect(await fw.within("OFFERS", 300)).toEqual([]);
    await fw.call("REVIVE", { revive: { roles: ["*"] } });
    await fw.offers();
    await fw.disconnect();
  });
});
