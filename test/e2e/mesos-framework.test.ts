import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { recordIoRecords } from "../support/recordio.ts";

/**
 * A third-party Mesos framework library from npm (`mesos-framework` 0.5.3, not written here)
 * against the real control plane (workerd, plain HTTP) and a real Bun agent: it
 * subscribes, takes an offer, launches a task that really runs, sees TASK_RUNNING (and
 * acknowledges it, as the library does), kills it and reconciles. The library posts to
 * `/api/v1/scheduler` without credentials; its request template (a public member it rebuilds
 * on every subscribe) is pointed at the cluster's path with a service account's credential as
 * HTTP Basic, which is all a framework author has to change. An operator's SUBSCRIBE stream on
 * `/api/v1` watches the same run: the framework added, its task and Marathon's added and running.
 */

interface Status {
  task_id: { value: string };
  agent_id?: { value: string };
  state: string;
  reason?: string;
  uuid?: string;
}

interface SchedulerLike {
  requestTemplate: { host: string; port: number; path: string; method: string; headers: Record<string, string> };
  generateRequestTemplate: () => void;
  frameworkId: string;
  on(event: string, listener: (arg: never) => void): void;
  subscribe(): void;
  kill(taskId: string, agentId: string): void;
  reconcile(taskId?: string, agentId?: string): void;
  teardown(): void;
}

const require = createRequire(import.meta.url);
const mesos = require("mesos-framework") as {
  Scheduler: new (options: Record<string, unknown>) => SchedulerLike;
  Mesos: { getMesos(): { CommandInfo: new (...args: unknown[]) => unknown } };
};

describe("the mesos-framework npm library on the scheduler API", () => {
  const cluster = new TestCluster({ FRAMEWORK_HEARTBEAT_SECONDS: "2" });
  let scheduler: SchedulerLike;
  const updates: Status[] = [];
  const errors: string[] = [];
  let acknowledged = 0;

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
    cluster.startAgent("a", {
      token: await cluster.joinToken(),
      hostname: "node-a",
      advertiseIp: "127.0.0.2",
      resources: "cpus:2;mem:2048;disk:1024;ports:[31000-31099]",
    });
    await waitFor(
      "the agent to register",
      async () => ((await cluster.api<{ agents: unknown[] }>("GET", `/c/${cluster.clusterId}/agents`)).agents.length === 1 ? true : undefined),
      30_000,
      200,
    );
  }, 120_000);
  afterAll(async () => {
    scheduler?.teardown();
    await new Promise((r) => setTimeout(r, 500));
    await cluster.stop();
  });

  it("subscribes, launches a task on the Bun agent, sees TASK_RUNNING, acknowledges, shares the agent with a Marathon app, kills and reconciles", async () => {
    const account = await cluster.api<{ principal: string; secret: string }>("POST", `/clusters/${cluster.clusterId}/service-accounts`, {
      principal: "e2e-sleeper",
    });
    // The operator API's event stream, read as any RecordIO client would, for the whole run.
    const operatorEvents: ({ type: string } & Record<string, Record<string, unknown>>)[] = [];
    const operatorStream = await cluster.fetch("POST", `/c/${cluster.clusterId}/api/v1`, { type: "SUBSCRIBE" });
    expect(operatorStream.status).toBe(200);
    const operatorReader = (operatorStream.body as ReadableStream<Uint8Array>).getReader();
    void (async () => {
      for await (const record of recordIoRecords(operatorReader)) operatorEvents.push(JSON.parse(record) as (typeof operatorEvents)[number]);
    })().catch(() => undefined);
    const Mesos = mesos.Mesos.getMesos();
    scheduler = new mesos.Scheduler({
      masterUrl: "127.0.0.1",
      port: cluster.port,
      frameworkName: "e2e-sleeper",
      // The library's default is root, which a DCX agent refuses unless started with --allow-root-tasks.
      user: "nobody",
      logging: { path: cluster.dir, level: "error" },
      restartStates: [],
      tasks: {
        sleeper: {
          instances: 1,
          commandInfo: new Mesos.CommandInfo(null, null, true, "sleep 300", null, null),
          resources: { cpus: 0.2, mem: 64, ports: 1, disk: 0 },
        },
      },
    });
    const template = scheduler.generateRequestTemplate.bind(scheduler);
    scheduler.generateRequestTemplate = () => {
      template();
      scheduler.requestTemplate.path = `/c/${cluster.clusterId}/api/v1/scheduler`;
      scheduler.requestTemplate.headers.Authorization = `Basic ${btoa(`${account.principal}:${account.secret}`)}`;
    };
    scheduler.generateRequestTemplate();
    scheduler.on("update", (u: { status: Status }) => updates.push(u.status));
    scheduler.on("sent_acknowledge", () => acknowledged++);
    scheduler.on("error", (e: { message?: string }) => errors.push(String(e?.message ?? e)));
    scheduler.subscribe();

    const running = await waitFor("TASK_RUNNING from the library's task", async () => updates.find((u) => u.state === "TASK_RUNNING"), 30_000, 100).catch(
      (e) => {
        console.error("scheduler events so far:", JSON.stringify({ errors, updates }));
        throw e;
      },
    );
    const taskId = running.task_id.value;
    expect(running.uuid).toBeTruthy();
    await waitFor("the library to acknowledge", async () => (acknowledged > 0 ? true : undefined), 10_000, 100);
    const tasks = await cluster.api<{ tasks: { id: string; state: string; framework_id: string }[] }>("GET", `/c/${cluster.clusterId}/master/tasks`);
    expect(tasks.tasks.find((t) => t.id === taskId)).toMatchObject({ state: "TASK_RUNNING", framework_id: scheduler.frameworkId });

    scheduler.reconcile(taskId, running.agent_id?.value ?? "");
    const reconciled = await waitFor(
      "a reconciliation update",
      async () => updates.find((u) => u.reason === "REASON_RECONCILIATION" && u.task_id.value === taskId),
      10_000,
      100,
    );
    expect(reconciled.state).toBe("TASK_RUNNING");

    // A Marathon app competes for the same agent: both frameworks' tasks run side by side.
    await cluster.api("POST", `/c/${cluster.clusterId}/v2/apps`, { id: "/web", cmd: "sleep 300", cpus: 0.2, mem: 32, instances: 2 });
    await waitFor(
      "the Marathon app's two tasks beside the framework's",
      async () => {
        const all = (
          await cluster.api<{ tasks: { id: string; state: string; framework_id: string }[] }>("GET", `/c/${cluster.clusterId}/master/tasks`)
        ).tasks.filter((t) => t.state === "TASK_RUNNING");
        const others = all.filter((t) => t.framework_id !== scheduler.frameworkId);
        return others.length === 2 && all.some((t) => t.id === taskId) ? true : undefined;
      },
      30_000,
      200,
    );

    scheduler.kill(taskId, running.agent_id?.value ?? "");
    await waitFor("TASK_KILLED", async () => updates.find((u) => u.state === "TASK_KILLED" && u.task_id.value === taskId), 30_000, 100);
    const after = await cluster.api<{ tasks: { id: string; state: string }[] }>("GET", `/c/${cluster.clusterId}/master/tasks`);
    expect(after.tasks.find((t) => t.id === taskId && t.state === "TASK_RUNNING")).toBeUndefined();
    // The client's own RecordIO reader saw every record whole: one record per chunk.
    expect(errors.filter((e) => /linebreak|parse/i.test(e))).toEqual([]);

    // The operator saw it all happen: SUBSCRIBED first, then the framework, its task and Marathon's.
    const seen = (type: string, match: (e: (typeof operatorEvents)[number]) => boolean) =>
      waitFor(`the operator stream's ${type}`, async () => operatorEvents.find((e) => e.type === type && match(e)), 10_000, 100);
    expect(operatorEvents[0]?.type).toBe("SUBSCRIBED");
    await seen("FRAMEWORK_ADDED", (e) => JSON.stringify(e.framework_added).includes(scheduler.frameworkId));
    await seen("TASK_ADDED", (e) => JSON.stringify(e.task_added).includes(taskId));
    await seen("TASK_UPDATED", (e) => e.task_updated?.state === "TASK_RUNNING" && JSON.stringify(e.task_updated).includes(taskId));
    await seen("TASK_UPDATED", (e) => e.task_updated?.state === "TASK_KILLED" && JSON.stringify(e.task_updated).includes(taskId));
    const marathonRunning = operatorEvents.filter(
      (e) => e.type === "TASK_UPDATED" && e.task_updated?.state === "TASK_RUNNING" && JSON.stringify(e.task_updated).includes("web"),
    );
    expect(marathonRunning).toHaveLength(2);
    await operatorReader.cancel().catch(() => undefined);
  }, 120_000);
});
