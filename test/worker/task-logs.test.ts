import { describe, expect, it } from "vitest";
import { type Account, call, joinAgent, signUp } from "./helpers.ts";

interface LogsFrame {
  type: "logs";
  requestId: string;
  taskId: string;
  stream: string;
  tail?: number;
  follow?: boolean;
  offset?: number;
}

/** A cluster with one protocol-level agent running one task of app /logger. */
async function clusterWithTask() {
  const account = await signUp();
  const agent = await joinAgent(account);
  const res = await call(`/c/${account.cluster.id}/v2/apps`, {
    method: "POST",
    token: account.token,
    json: { id: "/logger", cmd: "echo hi", cpus: 0.1, mem: 16 },
  });
  expect(res.status).toBe(201);
  const launch = await agent.socket.nextOfType<{ tasks: { taskId: string }[] }>("launch");
  const taskId = launch.tasks[0]?.taskId ?? "";
  agent.socket.send({ type: "status", updates: [{ updateId: `run-${taskId}`, taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
  await agent.socket.nextOfType("ack");
  const logs = (query = "", init: RequestInit = {}, a: Account = account) =>
    call(`/c/${a.cluster.id}/v2/tasks/${taskId}/logs${query}`, { token: a.token, ...init });
  return { account, ...agent, taskId, logs };
}

/** Reads a follow's Server-Sent Events until an `end` event or the body ends. */
async function readFollow(res: Response, onEvent: (data: string) => void = () => {}) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const chunks: { data: string; id?: string }[] = [];
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { chunks, end: undefined };
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (block.startsWith(":")) continue;
      const lines = block.split("\n");
      const data = lines
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      if (lines.includes("event: end")) {
        await reader.cancel();
        return { chunks, end: JSON.parse(data) as { reason: string; message: string } };
      }
      chunks.push({ data, id: lines.find((l) => l.startsWith("id: "))?.slice(4) });
      onEvent(data);
    }
  }
}

describe("GET /v2/tasks/:taskId/logs", () => {
  it("asks the task's agent with a logs frame and returns its chunks as text", async () => {
    const { socket, taskId, logs } = await clusterWithTask();
    const pending = logs("?stream=stderr&tail=5");
    const asked = await socket.nextOfType<LogsFrame>("logs");
    expect(asked).toMatchObject({ type: "logs", taskId, stream: "stderr", tail: 5, follow: false });
    expect(asked.offset).toBeUndefined();
    socket.send({ type: "logData", requestId: asked.requestId, data: "first line\nsecond ", offset: 0 });
    socket.send({ type: "logData", requestId: asked.requestId, data: "line, ünïcode\n", offset: 35, eof: true });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("first line\nsecond line, ünïcode\n");
  });

  it("404 for unknown tasks and for another cluster's tasks; the agent's not_found is a 404 and its failure a 502", async () => {
    const { account, socket, logs } = await clusterWithTask();
    const unknown = await call(`/c/${account.cluster.id}/v2/tasks/nope.instance-1._app.1/logs`, { token: account.token });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toBe("Task 'nope.instance-1._app.1' does not exist.");
    const other = await signUp();
    expect((await logs("", {}, other)).status).toBe(404);
    const foreign = await call(`/c/${account.cluster.id}/v2/tasks/x/logs`, { token: other.token });
    expect(foreign.status).toBe(404);

    const gone = logs();
    const asked = await socket.nextOfType<LogsFrame>("logs");
    socket.send({
      type: "logData",
      requestId: asked.requestId,
      data: "",
      offset: 0,
      eof: true,
      error: { code: "not_found", message: "the sandbox is no longer on this agent" },
    });
    const notFound = await gone;
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ message: "the sandbox is no longer on this agent" });
    const broken = logs();
    const again = await socket.nextOfType<LogsFrame>("logs");
    socket.send({ type: "logData", requestId: again.requestId, data: "", offset: 0, eof: true, error: { code: "failed", message: "EACCES" } });
    expect((await broken).status).toBe(502);
  });

  it("400 naming the parameter for an oversized tail, a bad stream or flag, and tail with offset", async () => {
    const { logs } = await clusterWithTask();
    const cases: [string, string][] = [
      ["?tail=10001", "tail"],
      ["?tail=-1", "tail"],
      ["?tail=ten", "tail"],
      ["?stream=stdin", "stream"],
      ["?follow=maybe", "follow"],
      ["?tail=3&offset=10", "offset"],
    ];
    for (const [query, field] of cases) {
      const res = await logs(query);
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { message: string; details: { path: string }[] };
      expect(body.message).toContain(`'${field}'`);
      expect(body.details[0]?.path).toBe(`/${field}`);
    }
    expect(((await (await logs("?tail=10001")).json()) as { message: string }).message).toBe("Invalid query parameter 'tail': must be at most 10000 lines.");
  });

  it("503 with the reason when the task's agent is not connected", async () => {
    const { socket, agentId, logs } = await clusterWithTask();
    socket.ws.close(1000, "bye");
    await socket.waitClosed();
    let res: Response;
    do res = await logs();
    while (res.status !== 503);
    const body = (await res.json()) as { message: string };
    expect(body.message).toMatch(new RegExp(`^Agent ${agentId} \\(node-1\\) is disconnected since \\d{4}-.*Z: the task's logs are on that machine`));
  });

  it("follow streams chunks as Server-Sent Events with offsets as ids, and ends when the task's output ends", async () => {
    const { socket, taskId, logs } = await clusterWithTask();
    const pending = logs("?follow=true&tail=2");
    const asked = await socket.nextOfType<LogsFrame>("logs");
    expect(asked).toMatchObject({ taskId, stream: "stdout", tail: 2, follow: true });
    socket.send({ type: "logData", requestId: asked.requestId, data: "a\nb\n", offset: 4 });
    const res = await pending;
    expect(res.headers.get("Content-Type")).toBe("text/event-stream");
    const reading = readFollow(res, (data) => {
      if (data === "a\nb\n") socket.send({ type: "logData", requestId: asked.requestId, data: "c\r\nd", offset: 8 });
      if (data === "c\nd") socket.send({ type: "logData", requestId: asked.requestId, data: "", offset: 8, eof: true });
    });
    const { chunks, end } = await reading;
    expect(chunks).toEqual([
      { data: "a\nb\n", id: "4" },
      { data: "c\nd", id: "8" },
    ]);
    expect(end).toEqual({ reason: "task_ended", message: "the task has ended" });
  });

  it("a follow whose agent disconnects mid-stream ends with agent_disconnected; Last-Event-ID resumes at its offset", async () => {
    const { socket, logs } = await clusterWithTask();
    const pending = logs("?follow=1", { headers: { "Last-Event-ID": "42" } });
    const asked = await socket.nextOfType<LogsFrame>("logs");
    expect(asked.offset).toBe(42);
    expect(asked.tail).toBeUndefined();
    socket.send({ type: "logData", requestId: asked.requestId, data: "x\n", offset: 44 });
    const res = await pending;
    const reading = readFollow(res, () => socket.ws.close(1000, "agent going away"));
    const { chunks, end } = await reading;
    expect(chunks.map((c) => c.data)).toEqual(["x\n"]);
    expect(end?.reason).toBe("agent_disconnected");
  });

  it("a client that leaves cancels the agent's follow; frames for requests the master does not hold are cancelled", async () => {
    const { socket, logs } = await clusterWithTask();
    const pending = logs("?follow=true");
    const asked = await socket.nextOfType<LogsFrame>("logs");
    socket.send({ type: "logData", requestId: asked.requestId, data: "", offset: 0 });
    const res = await pending;
    await (res.body as ReadableStream<Uint8Array>).cancel();
    // The object learns that the client left when it next writes to the stream.
    socket.send({ type: "logData", requestId: asked.requestId, data: "unread\n", offset: 7 });
    expect(await socket.nextOfType("logsCancel")).toEqual({ type: "logsCancel", requestId: asked.requestId });
    socket.send({ type: "logData", requestId: "stale-request", data: "late\n", offset: 5 });
    expect(await socket.nextOfType("logsCancel")).toEqual({ type: "logsCancel", requestId: "stale-request" });
  });
});
