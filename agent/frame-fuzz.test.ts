import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { mutate, randomJson } from "../test/support/json-mutations.ts";
import { seeded } from "../test/support/prng.ts";
import { Agent } from "./agent.ts";
import type { MasterCommand } from "./task-host.ts";
import { recordingTaskHost } from "./test-support/tasks.ts";
import { FakeMaster, waitFor } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { testAgentConfig } from "./test-support/agent-config.ts";

/**
 * Fuzzing of master frames against a real agent: thousands of seeded random and mutated frames
 * (`DCX_FUZZ_CASES`, `DCX_FUZZ_SEED`; the fault suite runs more). The agent must stay up and
 * connected, reject what does not parse, and still hand a valid frame to its task host
 * afterwards. The task host is a recorder: a mutation that happens to be a valid launch must
 * never run a random command on this machine.
 */

const CASES = Number(process.env.DCX_FUZZ_CASES ?? 2000);
const SEED = Number(process.env.DCX_FUZZ_SEED ?? 20261204);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TEMPLATES = [
  {
    type: "launch",
    tasks: [
      { taskId: "t-1", name: "/web", command: { shell: "sleep 1" }, resources: { cpus: 0.1, mem: 32, disk: 0, gpus: 0 }, env: { A: "1" }, ports: [31000] },
    ],
  },
  { type: "kill", taskIds: ["t-1"], gracePeriodMs: 1000 },
  { type: "ack", updateIds: ["u-1"] },
  { type: "reconcile", taskIds: ["t-1"] },
  { type: "logs", requestId: "r-1", taskId: "t-1", stream: "stdout", tail: 10, follow: false },
  { type: "logsCancel", requestId: "r-1" },
  { type: "bundle", requestId: "b-1" },
  { type: "registered", agentId: "agent-1", pingIntervalMs: 30 },
  { type: "error", message: "x" },
];

test(`the agent survives ${CASES} random and mutated master frames (seed ${SEED}) and keeps serving`, async () => {
  const master = new FakeMaster();
  cleanups.push(() => master.stop());
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-fuzz-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const handled: MasterCommand[] = [];
  const tasks = recordingTaskHost({ handle: (command) => void handled.push(command) });
  const logs = collectLog();
  const agent = Agent.create(testAgentConfig(master.url, dir, { token: "join", hostname: "fuzz-host" }), { log: logs.log, tasks });
  let exited = false;
  void agent.run().then(() => (exited = true));
  cleanups.push(() => agent.stop());
  const session = await master.registered(0);
  const random = seeded(SEED);
  for (let i = 0; i < CASES; i++) {
    const kind = i % 10;
    if (kind === 0) master.send(session, String.fromCharCode(...Array.from({ length: 80 }, () => Math.floor(random() * 0xffff))));
    else if (kind === 1) master.send(session, JSON.stringify(randomJson(random)));
    else master.send(session, JSON.stringify(mutate(TEMPLATES[i % TEMPLATES.length] as never, random)));
    if (i % 100 === 99) await Bun.sleep(5);
  }
  // After the storm, a valid kill still reaches the task host, on the same session.
  master.send(session, { type: "kill", taskIds: ["after-the-storm"], gracePeriodMs: 0 });
  await waitFor(() => handled.some((c) => c.type === "kill" && c.taskIds.includes("after-the-storm")), "the valid kill to reach the task host", 10_000);
  expect(exited).toBe(false);
  expect(master.sessions).toHaveLength(1);
  expect(session.closed).toBeUndefined();
  expect(logs.events("frame_invalid").length).toBeGreaterThan(CASES / 4);
}, 300_000);
