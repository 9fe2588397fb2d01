import { describe, expect, it } from "vitest";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";
import { Framework, launch } from "./scheduler-helpers.ts";
import { recordIoRecords } from "../support/recordio.ts";

const AGENT = { resources: { cpus: 4, mem: 4096, disk: 10_000, gpus: 0, ports: [[31000, 31009]] } };
type Event = { type: string } & Record<string, unknown>;

/** An operator's SUBSCRIBE stream, read across chunk boundaries into a queue. */
class OperatorStream {
  readonly events: Event[] = [];
  private ended = false;

  private constructor(
    readonly response: Response,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
  ) {}

  static async open(account: Account): Promise<OperatorStream> {
    const res = await call(`/c/${account.cluster.id}/api/v1`, { method: "POST", token: account.token, json: { type: "SUBSCRIBE" } });
    expect(res.status).toBe(200);
    const s = new OperatorStream(res, (res.body as ReadableStream<Uint8Array>).getReader());
    void s.pump();
    return s;
  }

  private async pump(): Promise<void> {
    try {
      for await (const record of recordIoRecords(this.reader)) this.events.push(JSON.parse(record) as Event);
    } catch {
      // Cancelled by the test.
    }
    this.ended = true;
  }

  /** The next event of `type` matching `where` (earlier ones of other kinds skipped). */
  async next(type: string, where: (e: Event) => boolean = () => true, timeoutMs = 5000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.type === type && where(e));
      if (i >= 0) return this.events.splice(0, i + 1).at(-1) as Event;
      if (Date.now() > deadline || this.ended) throw new Error(`no ${type} within ${timeoutMs} ms; had ${this.events.map((e) => e.type).join(",")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): Promise<void> {
    return this.reader.cancel().catch(() => {});
  }
}

const taskOf = (e: Event, key: "task_added" | "task_updated") => e[key] as Record<string, { value?: string } & Record<string, unknown>>;

describe("operator API SUBSCRIBE", () => {
  it("streams SUBSCRIBED with get_state, then agent, framework and task events, and HEARTBEATs", async () => {
    const account = await signUp();
    const first = await joinAgent(account, { ...AGENT, hostname: "first" });
    const stream = await OperatorStream.open(account);
    expect(stream.response.headers.get("Content-Type")).toBe("application/json");
    const subscribed = await stream.next("SUBSCRIBED");
    const { get_state, heartbeat_interval_seconds } = subscribed.subscribed as {
      get_state: { get_agents: { agents: { agent_info: { id: { value: string } } }[] }; get_frameworks: { frameworks: unknown[] } };
      heartbeat_interval_seconds: number;
    };
    expect(heartbeat_interval_seconds).toBe(1);
    expect(get_state.get_agents.agents.map((a) => a.agent_info.id.value)).toEqual([first.agentId]);
    expect(get_state.get_frameworks.frameworks).toHaveLength(2); // marathon and metronome

    const second = await joinAgent(account, { ...AGENT, hostname: "second" });
    const added = await stream.next("AGENT_ADDED");
    expect(added.agent_added).toMatchObject({ agent: { agent_info: { id: { value: second.agentId }, hostname: "second" }, active: true } });

    const fw = await Framework.subscribe(account, { name: "spark" });
    expect((await stream.next("FRAMEWORK_ADDED")).framework_added).toMatchObject({
      framework: { framework_info: { id: { value: fw.frameworkId }, name: "spark" }, connected: true },
    });
    const offer = (await fw.offers()).find((o) => o.agent_id.value === first.agentId);
    expect((await fw.call("ACCEPT", { accept: launch(offer!, "spark-1") })).status).toBe(202);
    const taskAdded = taskOf(await stream.next("TASK_ADDED"), "task_added").task as unknown as Record<string, unknown>;
    expect(taskAdded).toMatchObject({
      task_id: { value: "spark-1" },
      framework_id: { value: fw.frameworkId },
      agent_id: { value: first.agentId },
      state: "TASK_STAGING",
    });
    first.socket.send({ type: "status", updates: [{ updateId: "u1", taskId: fw.taskId("spark-1"), state: "TASK_RUNNING", timestamp: Date.now() }] });
    const updated = taskOf(await stream.next("TASK_UPDATED"), "task_updated");
    expect(updated).toMatchObject({
      framework_id: { value: fw.frameworkId },
      state: "TASK_RUNNING",
      status: { task_id: { value: "spark-1" }, state: "TASK_RUNNING" },
    });

    expect((await fw.call("TEARDOWN")).status).toBe(202);
    expect((await stream.next("FRAMEWORK_REMOVED")).framework_removed).toMatchObject({ framework_info: { id: { value: fw.frameworkId } } });
    expect((await call(`/c/${account.cluster.id}/agents/${second.agentId}`, { method: "DELETE", token: account.token })).status).toBe(204);
    expect((await stream.next("AGENT_REMOVED")).agent_removed).toEqual({ agent_id: { value: second.agentId } });
    await stream.next("HEARTBEAT", undefined, 3000);
    await stream.close();
    await fw.disconnect();
  });

  it("tells Marathon's tasks too, and a stream that ends leaves the cluster serving", async () => {
    const account = await signUp();
    const { socket } = await joinAgent(account, AGENT);
    const stream = await OperatorStream.open(account);
    await stream.next("SUBSCRIBED");
    const app = await call(`/c/${account.cluster.id}/v2/apps`, {
      method: "POST",
      token: account.token,
      json: { id: "/web", cmd: "sleep 100", cpus: 0.1, mem: 16, instances: 1 },
    });
    expect(app.status).toBe(201);
    const added = taskOf(await stream.next("TASK_ADDED"), "task_added").task as unknown as { task_id: { value: string }; framework_id: { value: string } };
    expect(added.framework_id.value).toMatch(/-0000$/);
    await socket.nextOfType("launch");
    await stream.close();
    const state = await call(`/c/${account.cluster.id}/api/v1`, { method: "POST", token: account.token, json: { type: "GET_TASKS" } });
    expect(((await state.json()) as { get_tasks: { tasks: unknown[] } }).get_tasks.tasks).toHaveLength(1);
  });
});
