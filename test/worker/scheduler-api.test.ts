import { describe, expect, it } from "vitest";
import { call, joinAgent, signUp } from "./helpers.ts";
import { Framework, launch, offered, scalar, schedulerPath, timePasses } from "./scheduler-helpers.ts";

const AGENT = { resources: { cpus: 4, mem: 4096, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };

describe("SUBSCRIBE", () => {
  it("answers 200 with a RecordIO stream and Mesos-Stream-Id: SUBSCRIBED first, then OFFERS of the agents, then HEARTBEATs", async () => {
    const account = await signUp();
    const { agentId } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account, { name: "spark" });
    expect(fw.response.headers.get("Content-Type")).toBe("application/json");
    expect(fw.frameworkId).toMatch(/-0002$/);
    const [offer] = await fw.offers();
    expect(offer?.agent_id.value).toBe(agentId);
    expect(offered(offer!, "cpus")).toBe(4);
    expect(offered(offer!, "mem")).toBe(4096);
    expect(offer?.resources.find((r) => r.name === "ports")?.ranges?.range).toEqual([{ begin: 31000, end: 31009 }]);
    await fw.next("HEARTBEAT", 3000);
    await fw.disconnect();
  });
});

describe("ACCEPT and status updates", () => {
  it("launches the task on the agent, sends TASK_RUNNING with a uuid, resends it until ACKNOWLEDGEd", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    const res = await fw.call("ACCEPT", {
      accept: launch(offer!, "job-1", { command: { value: "echo hi", environment: { variables: [{ name: "A", value: "1" }] } } }),
    });
    expect(res.status).toBe(202);
    const frame = await socket.nextOfType<{ tasks: { taskId: string; command: unknown; env: Record<string, string>; resources: { cpus: number } }[] }>(
      "launch",
    );
    // The agent runs it under the cluster's name of it; the framework's own id is in its environment, as Mesos sets it.
    expect(frame.tasks[0]?.taskId).toBe(fw.taskId("job-1"));
    expect(frame.tasks[0]?.env.MESOS_TASK_ID).toBe("job-1");
    expect(frame.tasks[0]?.command).toEqual({ shell: "echo hi" });
    expect(frame.tasks[0]?.env.A).toBe("1");
    expect(frame.tasks[0]?.resources.cpus).toBe(0.5);
    // A message that JSON escapes, and one beyond ASCII: the resend, read back from storage, must be the same status.
    const message = 'up: "ready"\n\tnaïve ✓';
    socket.send({ type: "status", updates: [{ updateId: "u1", taskId: fw.taskId("job-1"), state: "TASK_RUNNING", message, timestamp: Date.now() }] });
    const first = await fw.update();
    expect(first.state).toBe("TASK_RUNNING");
    expect(first.message).toBe(message);
    expect(first.uuid).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // Not acknowledged: sent again, with the same uuid.
    await timePasses(account);
    const again = await fw.update();
    expect(again).toEqual(first);
    const ack = await fw.call("ACKNOWLEDGE", { acknowledge: { agent_id: first.agent_id, task_id: first.task_id, uuid: first.uuid } });
    expect(ack.status).toBe(202);
    await timePasses(account);
    expect(await fw.within("UPDATE", 300)).toEqual([]);
    await fw.disconnect();
  });
});

describe("the call the Cluster object reads", () => {
  it("is the request's own JSON when it passes as sent, and the call without its nulls when a field was null", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const fw = await Framework.subscribe(account);
    const [offer] = await fw.offers();
    // protobuf.js-based clients send unset fields as null: a null scalar is no scalar (the task's
    // TASK_ERROR), where the null itself, read by the object, would be a 500.
    const unset = launch(offer!, "no-cpus", { resources: [{ name: "cpus", type: "SCALAR", scalar: null }, scalar("mem", 64)] });
    expect((await fw.call("ACCEPT", { accept: { ...unset, filters: { refuse_seconds: 0 } } })).status).toBe(202);
    const error = await fw.update();
    expect(error).toMatchObject({ task_id: { value: "no-cpus" }, state: "TASK_ERROR", message: "resource 'cpus' needs a scalar value" });
    const [again] = await fw.offers();
    expect((await fw.call("ACCEPT", { accept: launch(again!, "sent-as-is") })).status).toBe(202);
    const frame = await socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
    expect(frame.tasks.map((t) => t.taskId)).toEqual([fw.taskId("sent-as-is")]);
    await fw.disconnect();
  });
});

describe("errors", () => {
  it("answers 403 without a stream id or with a stale one, 400 for malformed calls, 415 for protobuf", async () => {
    const account = await signUp();
    const fw = await Framework.subscribe(account);
    expect((await fw.call("REVIVE", {}, {})).status).toBe(403);
    expect((await fw.call("REVIVE", {}, { "Mesos-Stream-Id": "not-the-stream" })).status).toBe(403);
    expect((await fw.call("FROB")).status).toBe(400);
    const missing = await fw.call("KILL");
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { message: string }).message).toContain("'kill'");
    const bad = await fw.call("ACCEPT", { accept: { offer_ids: "x" } });
    expect(bad.status).toBe(400);
    const path = schedulerPath(account);
    expect((await call(path, { method: "POST", token: account.token, headers: { "Content-Type": "application/json" }, body: "{" })).status).toBe(400);
    expect((await call(path, { method: "POST", token: account.token, headers: { "Content-Type": "application/x-protobuf" }, body: "x" })).status).toBe(415);
    const sub = await call(path, {
      method: "POST",
      token: account.token,
      headers: { "Mesos-Stream-Id": fw.streamId },
      json: { type: "SUBSCRIBE", subscribe: { framework_info: { user: "", name: "x" } } },
    });
    expect(sub.status).toBe(400);
    expect((await call(path, { method: "POST", json: { type: "SUBSCRIBE" } })).status).toBe(401);
    await fw.disconnect();
  });

  it("reads a call sent with its stream id in the Cluster object, with the same answers: 400 for text that is not JSON, nests too deep or is not a call, 415 for protobuf", async () => {
    const account = await signUp();
    const fw = await Framework.subscribe(account);
    const path = schedulerPath(account);
    const send = (body: string, type = "application/json") =>
      call(path, { method: "POST", token: account.token, headers: { "Content-Type": type, "Mesos-Stream-Id": fw.streamId }, body });
    const message = async (res: Response) => ({ status: res.status, message: ((await res.json()) as { message: string }).message });
    expect(await message(await send("{"))).toEqual({ status: 400, message: "Malformed JSON in request body." });
    const deep = `${"[".repeat(70)}${"]".repeat(70)}`;
    expect(await message(await send(`{"type":"REVIVE","framework_id":{"value":"${fw.frameworkId}"},"revive":${deep}}`))).toEqual({
      status: 400,
      message: "The JSON body nests deeper than 64 levels.",
    });
    const bad = await send(JSON.stringify({ type: "ACCEPT", framework_id: { value: fw.frameworkId }, accept: { offer_ids: "x" } }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { details: { path: string }[] }).details.map((d) => d.path)).toContain("/accept/offer_ids");
    expect((await send("x", "application/x-protobuf")).status).toBe(415);
    // A null field is an unset one: a REVIVE whose roles are null revives every role, as one without them.
    expect((await send(JSON.stringify({ type: "REVIVE", framework_id: { value: fw.frameworkId }, revive: { roles: null } }))).status).toBe(202);
    await fw.disconnect();
  });
});
