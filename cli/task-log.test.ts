import { describe, expect, test } from "bun:test";
import { serverEvents } from "./commands/task-log.ts";
import { cliHarness } from "./test-support/harness.ts";

const sse = (...events: string[]) => new Response(events.join(""), { headers: { "Content-Type": "text/event-stream" } });
const end = (reason: string, message: string) => `event: end\ndata: ${JSON.stringify({ reason, message })}\n\n`;

/** A pretend control plane: each task id plays one scenario; requests are recorded. */
const seen: URL[] = [];
const { dcx } = cliHarness("log", (req) => {
  const url = new URL(req.url);
  seen.push(url);
  const task = url.pathname.split("/")[5];
  const q = url.searchParams;
  if (task === "down") return Response.json({ message: "Agent a1 (node-1) is disconnected since 2030-01-01T00:00:00.000Z" }, { status: 503 });
  if (q.get("follow") !== "true") return new Response(`${q.get("stream")} of ${task}, tail ${q.get("tail")}\n`);
  if (task === "long" && q.get("offset") === null) return sse("id: 6\ndata: one\ndata: \n\n", ":\n\n", end("max_duration", "follows end after 60 minutes"));
  if (task === "long") return sse(`id: 10\ndata: two from ${q.get("offset")}\ndata: \n\n`, end("task_ended", "the task has ended"));
  return sse("id: 3\ndata: a\ndata: \n\n", end("agent_disconnected", "the agent disconnected"));
});

describe("dcx task log", () => {
  test("prints the output as the control plane sends it, with --stream and --tail in the query", async () => {
    expect(await dcx(["task", "log", "web.1", "--stream", "stderr", "--tail", "5"])).toEqual({ code: 0, stdout: "stderr of web.1, tail 5\n", stderr: "" });
    expect(seen.at(-1)?.pathname).toBe("/c/k1/v2/tasks/web.1/logs");
  });

  test("--follow prints each event's data and asks again from the offset reached when the server ends a follow for its duration", async () => {
    expect(await dcx(["task", "log", "long", "--follow"])).toEqual({ code: 0, stdout: "one\ntwo from 6\n", stderr: "" });
    expect(seen.slice(-2).map((u) => u.search)).toEqual(["?stream=stdout&follow=true", "?stream=stdout&follow=true&offset=6"]);
  });

  test("a follow that ends for another reason, an error status and a bad --tail fail with the reason", async () => {
    expect(await dcx(["task", "log", "cut", "--follow"])).toEqual({ code: 1, stdout: "a\n", stderr: "dcx: the log stream ended: the agent disconnected\n" });
    expect(await dcx(["task", "log", "down"])).toMatchObject({
      code: 1,
      stderr: "dcx: Agent a1 (node-1) is disconnected since 2030-01-01T00:00:00.000Z (HTTP 503)\n",
    });
    expect(await dcx(["task", "log", "x", "--tail", "lots"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--tail must be a number of lines, not 'lots'"),
    });
    expect((await dcx(["task", "log", "x", "--stream", "stdin"])).code).toBe(2);
  });
});

describe("serverEvents", () => {
  test("joins data lines, keeps event names and ids, and skips comments across chunk boundaries", async () => {
    const chunks = [":\n\nid: 1\nda", "ta: x\ndata: y\n", "\nevent: end\ndata: {}\n\n"].map((c) => new TextEncoder().encode(c));
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        for (const chunk of chunks) c.enqueue(chunk);
        c.close();
      },
    });
    const events = [];
    for await (const e of serverEvents(body)) events.push(e);
    expect(events).toEqual([
      { event: "message", id: "1", data: "x\ny" },
      { event: "end", data: "{}" },
    ]);
  });
});
