import { describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LogData, MAX_LOG_FRAME_BYTES } from "../protocol/index.ts";
import type { AgentMessage, Logs } from "../protocol/index.ts";
import { LogService } from "./log-service.ts";
import type { LogSource } from "./log-service.ts";
import { waitFor } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { testScope } from "./test-support/scope.ts";

const scope = testScope("dcx-log-service");

/** A log service over one sandbox, with the frames it sends. */
function service(options: { running?: boolean; maxFollows?: number; maxFollowMs?: number } = {}) {
  const sandbox = join(scope.tempDir(), "task-1");
  mkdirSync(sandbox);
  const task: LogSource = { sandbox, running: options.running ?? true };
  const frames: LogData[] = [];
  const logs = new LogService({
    source: (taskId) => (taskId === "task-1" ? task : undefined),
    log: collectLog().log,
    pollMs: 20,
    maxFollows: options.maxFollows,
    maxFollowMs: options.maxFollowMs,
  });
  logs.connected((message: AgentMessage) => {
    // Every frame must pass the master's own check of the protocol.
    frames.push(LogData.parse(message));
  });
  scope.defer(() => logs.close());
  const request = (requestId: string, fields: Partial<Logs> = {}) => logs.handle({ type: "logs", requestId, taskId: "task-1", stream: "stdout", ...fields });
  const of = (requestId: string) => frames.filter((f) => f.requestId === requestId);
  const output = (requestId: string) =>
    of(requestId)
      .map((f) => f.data)
      .join("");
  const ended = (requestId: string) => waitFor(() => of(requestId).some((f) => f.eof), `eof of ${requestId}`);
  return { logs, task, sandbox, frames, request, of, output, ended };
}

describe("one-shot requests", () => {
  test("a tail is answered at once, in one frame with eof and the offset reached", () => {
    const s = service();
    writeFileSync(join(s.sandbox, "stdout"), "l1\nl2\nl3\n");
    writeFileSync(join(s.sandbox, "stderr"), "oops\n");
    s.request("r1", { tail: 2 });
    s.request("r2", { stream: "stderr" });
    expect(s.of("r1")).toEqual([{ type: "logData", requestId: "r1", data: "l2\nl3\n", offset: 9, eof: true }]);
    expect(s.output("r2")).toBe("oops\n");
  });

  test("large output goes out in frames of at most 64 KiB, and an offset continues after a frame", () => {
    const s = service();
    const line = `${"z".repeat(99)}\n`;
    writeFileSync(join(s.sandbox, "stdout"), line.repeat(2000));
    s.request("big");
    const frames = s.of("big");
    expect(frames.length).toBe(Math.ceil(200_000 / MAX_LOG_FRAME_BYTES));
    for (const f of frames) expect(Buffer.byteLength(f.data)).toBeLessThanOrEqual(MAX_LOG_FRAME_BYTES);
    expect(s.output("big")).toBe(line.repeat(2000));
    expect(frames.filter((f) => f.eof)).toHaveLength(1);
    s.request("rest", { offset: frames[0]?.offset });
    expect(s.output("rest")).toBe(line.repeat(2000).slice(MAX_LOG_FRAME_BYTES));
  });

  test("unknown tasks and vanished sandboxes are not_found; an empty stream is one empty frame", () => {
    const s = service({ running: false });
    s.logs.handle({ type: "logs", requestId: "x", taskId: "nope", stream: "stdout" });
    expect(s.of("x")[0]).toMatchObject({ eof: true, error: { code: "not_found", message: "task 'nope' is not known to this agent" } });
    s.request("empty");
    expect(s.of("empty")).toEqual([{ type: "logData", requestId: "empty", data: "", offset: 0, eof: true }]);
    s.task.sandbox = join(s.sandbox, "gone");
    s.request("gone");
    expect(s.of("gone")[0]?.error?.code).toBe("not_found");
  });
});

describe("follow", () => {
  test("sends appended output in coalesced frames and ends once the task has ended", async () => {
    const s = service();
    const path = join(s.sandbox, "stdout");
    writeFileSync(path, "before\n");
    s.request("f", { follow: true, tail: 1 });
    expect(s.of("f")).toEqual([{ type: "logData", requestId: "f", data: "before\n", offset: 7 }]);
    for (let i = 0; i < 50; i++) appendFileSync(path, `line ${i}\n`);
    await waitFor(() => s.output("f").includes("line 49\n"), "the appended lines");
    // Fifty lines written at once arrive in a frame or two, not fifty.
    expect(s.of("f").length).toBeLessThanOrEqual(3);
    appendFileSync(path, "last words\n");
    s.task.running = false;
    await s.ended("f");
    expect(s.output("f")).toEndWith("line 49\nlast words\n");
    const frames = s.frames.length;
    appendFileSync(path, "after the end\n");
    await Bun.sleep(100);
    expect(s.frames.length).toBe(frames);
  });

  test("a follow of an ended task ends with its output; cancel and disconnect stop follows", async () => {
    const s = service({ running: false });
    writeFileSync(join(s.sandbox, "stdout"), "done\n");
    s.request("ended", { follow: true });
    expect(s.of("ended")).toEqual([{ type: "logData", requestId: "ended", data: "done\n", offset: 5, eof: true }]);
    s.task.running = true;
    s.request("c", { follow: true });
    s.request("d", { follow: true });
    s.logs.handle({ type: "logsCancel", requestId: "c" });
    s.logs.disconnected();
    appendFileSync(join(s.sandbox, "stdout"), "more\n");
    await Bun.sleep(100);
    expect(s.output("c")).toBe("done\n");
    expect(s.output("d")).toBe("done\n");
  });

  test("follows beyond the limit are refused as unavailable, and a follow ends at its time limit", async () => {
    const s = service({ maxFollows: 1, maxFollowMs: 60 });
    s.request("a", { follow: true });
    s.request("b", { follow: true });
    expect(s.of("b")[0]?.error).toEqual({ code: "unavailable", message: "this agent already follows 1 logs; try again later" });
    await s.ended("a");
  });
});
