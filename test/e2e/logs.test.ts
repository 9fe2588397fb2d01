import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUN, ROOT, toolEnv } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { TEST_IMAGE, dockerForTests } from "./docker-support.ts";

interface Task {
  id: string;
  state: string;
}

const dockerd = dockerForTests();

/** Reads a follow's Server-Sent Events: the data of each chunk, and the final `end` event. */
async function readFollow(res: Response, onFirst: () => void = () => {}) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const chunks: string[] = [];
  let buffer = "";
  let first = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { chunks, end: undefined };
    if (first) onFirst();
    first = false;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const lines = buffer.slice(0, cut).split("\n");
      buffer = buffer.slice(cut + 2);
      const data = lines
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      if (lines.includes("event: end")) {
        await reader.cancel();
        return { chunks, end: JSON.parse(data) as { reason: string; message: string } };
      }
      if (lines.some((l) => l.startsWith("data: "))) chunks.push(data);
    }
  }
}

/**
 * Task logs end to end: the control plane on workerd, a real Bun agent running exec and
 * docker tasks, their output fetched over the agent's WebSocket, by HTTP and by `dcx task log`.
 */
describe("task logs", () => {
  const cluster = new TestCluster();
  const c = (path: string) => `/c/${cluster.clusterId}${path}`;
  const sandbox = (taskId: string) => join(cluster.dir, "a", "sandboxes", taskId);
  const logs = (taskId: string, query = "") => cluster.fetch("GET", c(`/v2/tasks/${taskId}/logs${query}`));
  const text = async (taskId: string, query = "") => {
    const res = await logs(taskId, query);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`logs of ${taskId}${query}: ${res.status} ${body}`);
    return body;
  };
  const deploy = async (app: Record<string, unknown>) => {
    await cluster.api("POST", c("/v2/apps"), { cpus: 0.1, mem: 32, ...app });
    return waitFor(
      `a task of ${String(app.id)} running`,
      async () => {
        const { tasks } = await cluster.api<{ tasks: Task[] }>("GET", c(`/v2/apps${String(app.id)}/tasks`));
        return tasks.find((t) => t.state === "TASK_RUNNING");
      },
      60_000,
    );
  };
  const config = () => join(cluster.dir, "dcx.json");

  /** `dcx ARGS` as a child process (`bun cli/main.ts`), logged in to this cluster. */
  function dcx(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const proc = spawn(BUN, [join(ROOT, "cli", "main.ts"), ...args], {
      cwd: ROOT,
      env: toolEnv({ DCX_CONFIG: config(), NO_COLOR: "1" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    return new Promise((resolve) =>
      proc.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      }),
    );
  }

  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
    cluster.startAgent("a", { token: await cluster.joinToken(), hostname: "log-node", resources: "cpus:2;mem:1024;disk:1024;ports:[31400-31499]" });
    await waitFor("the agent", async () => (await cluster.api<{ slaves: unknown[] }>("GET", c("/master/slaves"))).slaves[0]);
    writeFileSync(config(), JSON.stringify({ url: cluster.url, token: cluster.token, cluster: cluster.clusterId }), { mode: 0o600 });
  });
  afterAll(() => cluster.stop());

  it("an exec task's stdout and stderr, whole or its last N lines", async () => {
    const task = await deploy({ id: "/chatty", cmd: 'for i in $(seq 1 20); do echo "out $i"; echo "err $i" >&2; done; sleep 1000' });
    const all = Array.from({ length: 20 }, (_, i) => `out ${i + 1}\n`).join("");
    expect(await waitFor("all 20 lines", async () => ((await text(task.id)) === all ? true : undefined))).toBe(true);
    expect(await text(task.id, "?tail=3")).toBe("out 18\nout 19\nout 20\n");
    expect(await text(task.id, "?stream=stderr&tail=1")).toBe("err 20\n");
    const tooMany = await logs(task.id, "?tail=20000");
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { message: string }).message).toBe("Invalid query parameter 'tail': must be at most 10000 lines.");
    expect((await logs("chatty.instance-nope._app.1")).status).toBe(404);

    const cli = await dcx(["task", "log", task.id, "--tail", "2"]);
    expect(cli).toEqual({ code: 0, stdout: "out 19\nout 20\n", stderr: "" });
    expect((await dcx(["task", "log", task.id, "--stream", "stderr", "--tail", "1"])).stdout).toBe("err 20\n");
  });

  it("follow streams new lines as the task writes them and ends when the task ends; the finished task's logs stay readable", async () => {
    // The task waits for a file the test creates once the follow is open, so every line is new to it.
    const task = await deploy({ id: "/ticker", cmd: 'while [ ! -e go ]; do sleep 0.1; done; for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.3; done' });
    const res = await logs(task.id, "?follow=true");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/event-stream");
    // The response has started: the agent answered, so its follow is in place.
    writeFileSync(join(sandbox(task.id), "go"), "");
    const { chunks, end } = await readFollow(res);
    expect(chunks.join("")).toBe("tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n");
    // Lines arrive as they are written (coalesced per poll), not all at the end.
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(end).toEqual({ reason: "task_ended", message: "the task has ended" });

    await waitFor(`${task.id} finished`, async () => {
      const { tasks } = await cluster.api<{ tasks: Task[] }>("GET", c("/master/tasks"));
      return tasks.find((t) => t.id === task.id && t.state === "TASK_FINISHED");
    });
    expect(await text(task.id, "?tail=2")).toBe("tick 4\ntick 5\n");
    // A follow of a finished task prints its output and ends at once, through the CLI too.
    expect(await dcx(["task", "log", task.id, "--follow"])).toEqual({ code: 0, stdout: "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n", stderr: "" });
  });

  it.skipIf(dockerd.skip)("a docker task's stdout and stderr", async () => {
    dockerd.require();
    const task = await deploy({
      id: "/boxed",
      cmd: 'echo "hello from docker"; echo "docker says no" >&2; sleep 1000',
      container: { type: "DOCKER", docker: { image: TEST_IMAGE, network: "HOST" } },
    });
    expect(await waitFor("the container's output", async () => ((await text(task.id)) === "hello from docker\n" ? true : undefined))).toBe(true);
    expect(await text(task.id, "?stream=stderr&tail=1")).toBe("docker says no\n");
  });

  it("a follow whose agent dies ends with agent_disconnected; then logs answer 503 with the reason", async () => {
    const { tasks } = await cluster.api<{ tasks: Task[] }>("GET", c("/v2/apps/chatty/tasks"));
    const taskId = tasks[0]?.id ?? "";
    const res = await logs(taskId, "?follow=true&tail=1");
    const agent = cluster.agents[0];
    const { chunks, end } = await readFollow(res, () => void agent?.stop("SIGKILL"));
    expect(chunks).toEqual(["out 20\n"]);
    expect(end?.reason).toBe("agent_disconnected");
    const down = await logs(taskId);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { message: string }).message).toMatch(
      /^Agent \S+ \(log-node\) is disconnected since .*: the task's logs are on that machine/,
    );
    const cli = await dcx(["task", "log", taskId]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("(log-node) is disconnected since");
  });
});
