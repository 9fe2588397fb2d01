import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { CloseCode, taskSetDigest } from "../protocol/index.ts";
import { AGENT_VERSION, Agent, ExitCode } from "./agent.ts";
import type { AgentExit, AgentOptions } from "./agent.ts";
import type { AgentConfig } from "./config.ts";
import { agentConnectUrl } from "./connection.ts";
import { identityPath, loadIdentity, saveIdentity } from "./identity.ts";
import type { MasterCommand } from "./task-host.ts";
import { FakeMaster, waitFor } from "./test-support/fake-master.ts";
import { recordingTaskHost } from "./test-support/tasks.ts";
import { collectLog } from "./test-support/log-collector.ts";

const JOIN_TOKEN = "join-token-1";
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function fakeMaster(options?: ConstructorParameters<typeof FakeMaster>[0]): FakeMaster {
  const master = new FakeMaster(options);
  cleanups.push(() => master.stop());
  return master;
}

function workDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-agent-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts an agent against `master`; the test stops it (or it ends by itself). */
function startAgent(master: FakeMaster, dir: string, options: AgentOptions = {}, config: Partial<AgentConfig> = {}) {
  const logs = collectLog();
  const agent = Agent.create(
    {
      master: master.url,
      cluster: "c1",
      token: JOIN_TOKEN,
      workDir: dir,
      resources: { cpus: 2, mem: 1024 },
      attributes: { rack: "r1" },
      hostname: "test-host",
      advertiseIp: "127.0.0.1",
      backoffMaxMs: 20,
      killTasksOnExit: false,
      ...config,
    },
    { log: logs.log, ...options },
  );
  const running: Promise<AgentExit> = agent.run();
  cleanups.push(() => agent.stop());
  return { agent, running, logs };
}

describe("agentConnectUrl", () => {
  test("maps http to ws and https to wss, keeping a base path", () => {
    expect(agentConnectUrl("http://127.0.0.1:8787", "c1")).toBe("ws://127.0.0.1:8787/c/c1/agent/connect");
    expect(agentConnectUrl("https://dcx.example.com/base", "prod")).toBe("wss://dcx.example.com/base/c/prod/agent/connect");
    expect(agentConnectUrl("wss://dcx.example.com", "c")).toBe("wss://dcx.example.com/c/c/agent/connect");
  });
});

describe("connection", () => {
  test("joins with the join token, keeps the credential, pings, and rejoins with the credential", async () => {
    const master = fakeMaster({ pingIntervalMs: 20, agentId: "agent-7", credential: "credential-7" });
    const dir = workDir();
    let identityAtFirstPing: unknown;
    master.onPing = (session) => {
      if (session.pings === 1 && session.index === 0) identityAtFirstPing = loadIdentity(dir);
    };
    const { agent, running, logs } = startAgent(master, dir);

    const first = await master.registered(0);
    expect(first.path).toBe("/c/c1/agent/connect");
    expect(first.authorization).toBe(`Bearer ${JOIN_TOKEN}`);
    expect(first.registers[0]).toMatchObject({
      type: "register",
      protocol: 1,
      hostname: "test-host",
      ip: "127.0.0.1",
      attributes: { rack: "r1" },
      version: AGENT_VERSION,
      tasks: [],
    });
    expect(first.registers[0]?.agentId).toBeUndefined();
    expect(first.registers[0]?.resources).toMatchObject({ cpus: 2, mem: 1024, ports: [[31000, 32000]] });

    // Five intervals of answered pings: the heartbeat watchdog must not fire meanwhile.
    await waitFor(() => first.pings >= 5, "five pings");
    expect(identityAtFirstPing).toEqual({ agentId: "agent-7", credential: "credential-7", cluster: "c1", master: master.url });
    expect(statSync(identityPath(dir)).mode & 0o777).toBe(0o600);
    expect(agent.agentId).toBe("agent-7");
    expect(logs.events("heartbeat_timeout")).toEqual([]);

    first.ws?.close(1012, "master restarting");
    const second = await master.registered(1);
    expect(second.authorization).toBe("Bearer credential-7");
    expect(second.registers[0]?.agentId).toBe("agent-7");
    expect(logs.events("disconnected")[0]).toMatchObject({ code: 1012, registered: true, byAgent: false });
    expect(logs.events("reconnect_scheduled")).toHaveLength(1);

    await agent.stop("SIGTERM");
    expect(await running).toEqual({ code: ExitCode.OK, reason: "stopped" });
    await waitFor(() => second.closed, "the agent's close");
    expect(second.closed).toEqual({ code: CloseCode.NORMAL, reason: "agent shutting down" });
    expect(logs.events("shutdown")).toHaveLength(1);
    // Neither secret ever reaches the log.
    expect(logs.lines.join("")).not.toContain(JOIN_TOKEN);
    expect(logs.lines.join("")).not.toContain("credential-7");
  });

  test("a 1008 on a join token ends the agent with 78 and says the join token was rejected", async () => {
    const master = fakeMaster();
    master.onRegister = (session) => session.ws?.close(CloseCode.POLICY, "join token is not valid");
    const { running, logs } = startAgent(master, workDir());
    const exit = await running;
    expect(exit.code).toBe(ExitCode.CONFIG);
    expect(exit.reason).toContain("join token");
    expect(logs.events("credential_rejected")).toHaveLength(1);
    expect(master.sessions).toHaveLength(1);
  });

  test("a 1008 on a credential says the agent was probably removed and names identity.json", async () => {
    const master = fakeMaster();
    master.onRegister = (session) => session.ws?.close(CloseCode.POLICY, "agent credential is not valid");
    const dir = workDir();
    saveIdentity(dir, { agentId: "agent-3", credential: "credential-3", cluster: "c1", master: master.url });
    const { running } = startAgent(master, dir, {}, { token: undefined });
    const exit = await running;
    expect(exit.code).toBe(ExitCode.CONFIG);
    expect(exit.reason).toContain("probably removed");
    expect(exit.reason).toContain(identityPath(dir));
    expect(master.sessions[0]?.authorization).toBe("Bearer credential-3");
    expect(master.sessions[0]?.registers[0]?.agentId).toBe("agent-3");
  });

  test("4002 (removed) is final too", async () => {
    const master = fakeMaster();
    const { running, logs } = startAgent(master, workDir());
    const session = await master.registered(0);
    await waitFor(() => logs.events("registered").length > 0, "registered");
    session.ws?.close(CloseCode.REMOVED, "agent removed from the cluster");
    expect((await running).code).toBe(ExitCode.CONFIG);
    expect(logs.events("agent_removed")).toHaveLength(1);
    expect(master.sessions).toHaveLength(1);
  });

  test("4000 (replaced by another session) reconnects", async () => {
    const master = fakeMaster();
    const { logs } = startAgent(master, workDir());
    const session = await master.registered(0);
    session.ws?.close(CloseCode.REPLACED, "replaced by a newer session of this agent");
    await master.registered(1);
    expect(logs.events("disconnected")[0]).toMatchObject({ code: CloseCode.REPLACED, meaning: "replaced by another session of the same agent" });
  });

  test("invalid frames are logged and ignored; task frames reach the task host, whose failures are contained; the session stays", async () => {
    const master = fakeMaster({ pingIntervalMs: 20 });
    const commands: MasterCommand[] = [];
    const tasks = recordingTaskHost({
      reports: () => [{ taskId: "t1", state: "TASK_RUNNING" }],
      handle: (command) => {
        if (command.type === "ack") throw new Error("driver bug");
        commands.push(command);
      },
    });
    const { logs } = startAgent(master, workDir(), { tasks });
    const session = await master.registered(0);
    expect(session.registers[0]?.tasks).toEqual([{ taskId: "t1", state: "TASK_RUNNING" }]);
    await waitFor(() => logs.events("registered").length > 0, "registered");
    for (const frame of ["not json", '{"type":"bogus"}', '{"type":"launch"}', "[]"]) master.send(session, frame);
    master.send(session, { type: "error", message: "status updates are not accepted" });
    master.send(session, { type: "ack", updateIds: ["u1"] });
    master.send(session, { type: "kill", taskIds: ["t1"], gracePeriodMs: 1000 });
    await waitFor(() => commands.length > 0, "the kill to reach the task host");
    expect(commands).toEqual([{ type: "kill", taskIds: ["t1"], gracePeriodMs: 1000 }]);
    expect(logs.events("frame_invalid").map((r) => r.message)).toEqual([
      "frame is not valid JSON",
      "unknown message type 'bogus'",
      "frame does not match the protocol",
      "frame does not match the protocol",
    ]);
    expect(logs.events("master_error")[0]?.message).toBe("status updates are not accepted");
    expect(logs.events("command_failed")[0]).toMatchObject({ type: "ack", error: "driver bug" });
    const pings = session.pings;
    await waitFor(() => session.pings >= pings + 2, "pings to go on");
    expect(session.closed).toBeUndefined();
    expect(master.sessions).toHaveLength(1);
  });

  test("a master that stops answering for 3 ping intervals is dropped and redialled", async () => {
    const master = fakeMaster({ pingIntervalMs: 25 });
    const { logs } = startAgent(master, workDir());
    const first = await master.registered(0);
    first.answerPings = false;
    await master.registered(1);
    const timeout = logs.events("heartbeat_timeout")[0];
    expect(timeout?.timeoutMs).toBe(75);
    expect(Number(timeout?.silentMs)).toBeGreaterThanOrEqual(75);
    expect(first.pings).toBeGreaterThanOrEqual(2);
    await waitFor(() => first.closed, "the agent's close");
    expect(first.closed?.code).toBe(CloseCode.TIMEOUT);
  });

  test("a master that never answers register is redialled after the register timeout", async () => {
    const master = fakeMaster();
    master.onRegister = () => {};
    const { logs } = startAgent(master, workDir(), { registerTimeoutMs: 50 });
    await master.registered(1);
    expect(logs.events("disconnected")[0]).toMatchObject({ code: CloseCode.TIMEOUT, byAgent: true, registered: false });
  });

  test("backoff grows while the master refuses and starts over after a registered session", async () => {
    const master = fakeMaster({ refuseFirst: 3 });
    // A 1% draw keeps the test fast while the delays still show the window doubling.
    const { logs } = startAgent(master, workDir(), { random: () => 0.01 }, { backoffMaxMs: 10_000 });
    const session = await master.registered(0);
    await waitFor(() => logs.events("registered").length > 0, "registered");
    session.ws?.close(1012, "restart");
    await master.registered(1);
    const scheduled = logs.events("reconnect_scheduled").map((r) => [r.attempt, r.delayMs]);
    expect(scheduled).toEqual([
      [1, 5],
      [2, 10],
      [3, 20],
      [1, 5],
    ]);
  });

  test("the master's reconnectWindowMs sizes the jitter of the first reconnect after a drop; register carries the resume digest", async () => {
    const master = fakeMaster({ reconnectWindowMs: 4_000 });
    const { logs } = startAgent(master, workDir(), { random: () => 0.01 }, { backoffMaxMs: 10_000 });
    const session = await master.registered(0);
    await waitFor(() => logs.events("registered").length > 0, "registered");
    expect(session.registers[0]?.resume?.digest).toBe(taskSetDigest([]));
    session.ws?.close(1012, "service restart");
    await master.registered(1);
    // 1% of the master's 4 s window, where the base window alone would have given 5 ms.
    expect(logs.events("reconnect_scheduled").map((r) => [r.attempt, r.delayMs])).toEqual([[1, 40]]);
  });

  test("a window frame (the cluster grew since registering) widens the first reconnect after a drop", async () => {
    const master = fakeMaster({ reconnectWindowMs: 1_000 });
    master.onRegister = (session, register) => {
      master.registerAgent(session, register);
      if (session.index === 0) master.send(session, { type: "window", reconnectWindowMs: 6_000 });
    };
    const { logs } = startAgent(master, workDir(), { random: () => 0.01 }, { backoffMaxMs: 10_000 });
    const session = await master.registered(0);
    await waitFor(() => logs.events("registered").length > 0, "registered");
    // Nothing is logged for the frame: it reaches the backoff, not the task host.
    await new Promise((r) => setTimeout(r, 50));
    expect(logs.events("frame_invalid")).toEqual([]);
    session.ws?.close(1012, "service restart");
    await master.registered(1);
    // 1% of the grown 6 s window, not of the 1 s one told at registration.
    expect(logs.events("reconnect_scheduled").map((r) => [r.attempt, r.delayMs])).toEqual([[1, 60]]);
  });

  test("a retry frame from the master is honoured: the agent comes back after retryAfterMs, not on its backoff", async () => {
    const master = fakeMaster();
    master.onRegister = (session, register) => {
      if (session.index > 0) return master.registerAgent(session, register);
      master.send(session, { type: "retry", retryAfterMs: 150, message: "registrations are admitted at 1/s" });
      session.ws?.close(CloseCode.TRY_AGAIN_LATER, "try again later");
    };
    const { logs } = startAgent(master, workDir(), { random: () => 0 });
    await master.registered(0);
    const started = Date.now();
    await master.registered(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(logs.events("registration_deferred")[0]).toMatchObject({ retryAfterMs: 150 });
    expect(logs.events("disconnected")[0]).toMatchObject({ code: CloseCode.TRY_AGAIN_LATER, registered: false });
    expect(logs.events("reconnect_scheduled")[0]).toMatchObject({ delayMs: 150, retryAfterMs: 150, attempt: 0 });
  });

  test("an identity that cannot be saved stops the agent with 74 instead of running without it", async () => {
    const master = fakeMaster();
    const dir = workDir();
    const { running, logs } = startAgent(master, dir);
    mkdirSync(identityPath(dir));
    const exit = await running;
    expect(exit.code).toBe(ExitCode.IO_ERROR);
    expect(logs.events("identity_save_failed")).toHaveLength(1);
    expect(master.sessions[0]?.pings).toBe(0);
    await waitFor(() => master.sessions[0]?.closed, "the agent's close");
    expect(master.sessions[0]?.closed?.code).toBe(1011);
  });
});
