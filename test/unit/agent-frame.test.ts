import { describe, expect, it } from "vitest";
import { AgentMessage, parseAgentFrame, parseFrame } from "../../protocol/index.ts";

/**
 * parseAgentFrame checks usual status frames by hand and everything else with the schema: for
 * any text, it must answer exactly as the schema does (same value, same errors), so the quick
 * check can only ever be a shortcut, never a second opinion.
 */

const update = (over: Record<string, unknown> = {}) => ({
  updateId: "u-1",
  taskId: "web.instance-1._app.1",
  state: "TASK_RUNNING",
  timestamp: 1_700_000_000_000,
  ...over,
});
const status = (updates: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ type: "status", updates, ...extra });

const TAKEN = [
  status([update()]),
  status([update({ message: "started" }), update({ updateId: "u-2", state: "TASK_FAILED", message: "" })]),
  status([update({ timestamp: 0 })]),
  status([update({ updateId: "x".repeat(128), taskId: "t".repeat(512), message: "m".repeat(4096) })]),
  status(Array.from({ length: 10_000 }, (_, i) => update({ updateId: `u-${i}` }))),
  // Shapes the quick check leaves to the schema, which takes them.
  status([update({ healthy: false, healthCheck: 1, message: "probe failed" })]),
];

const REFUSED = [
  status([]),
  status(Array.from({ length: 10_001 }, (_, i) => update({ updateId: `u-${i}` }))),
  status([update({ updateId: "" })]),
  status([update({ updateId: "x".repeat(129) })]),
  status([update({ taskId: "t".repeat(513) })]),
  status([update({ state: "TASK_SLEEPING" })]),
  status([update({ state: 3 })]),
  status([update({ message: "m".repeat(4097) })]),
  status([update({ message: null })]),
  status([update({ timestamp: -1 })]),
  status([update({ timestamp: "now" })]),
  status([update({ extra: true })]),
  status([update(), null]),
  status([[update()]]),
  status({ 0: update() }),
  status([update()], { extra: 1 }),
  '{"type":"status","updates":[{"__proto__":{},"updateId":"u","taskId":"t","state":"TASK_RUNNING","timestamp":1}]}',
  JSON.stringify({ type: "status" }),
  JSON.stringify({ type: "statuses", updates: [update()] }),
  "not json",
  "null",
  "[]",
];

describe("parseAgentFrame", () => {
  it("takes every usual status frame as the schema does, with the same value", () => {
    for (const text of TAKEN) {
      const quick = parseAgentFrame(text);
      expect(quick.ok, text.slice(0, 120)).toBe(true);
      expect(quick).toEqual(parseFrame(AgentMessage, text));
    }
  });

  it("refuses what the schema refuses, with the schema's message and field errors", () => {
    for (const text of REFUSED) {
      const quick = parseAgentFrame(text);
      expect(quick.ok, text.slice(0, 120)).toBe(false);
      expect(quick).toEqual(parseFrame(AgentMessage, text));
    }
  });

  it("reads other frames through the schema, defaults included", () => {
    const resources = JSON.stringify({ type: "resources", resources: { cpus: 2, mem: 1024, disk: 0, gpus: 0, ports: [] } });
    expect(parseAgentFrame(resources)).toEqual(parseFrame(AgentMessage, resources));
  });
});
