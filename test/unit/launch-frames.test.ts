import { describe, expect, it } from "vitest";
import { Launch, MAX_FRAME_BYTES, type TaskLaunch, launchFrames, parseFrame } from "../../protocol/messages.ts";

/** A task whose launch frame entry is about `bytes` long (its environment carries the bulk). */
function task(i: number, bytes = 200): TaskLaunch {
  return {
    taskId: `app.instance-${i}._app.1`,
    name: "app",
    resources: { cpus: 0.01, mem: 1, disk: 0, gpus: 0 },
    ports: [],
    env: { PAD: "x".repeat(bytes) },
    killGracePeriodMs: 3000,
    command: { shell: "sleep 600" },
  };
}

const frameBytes = (tasks: TaskLaunch[]) => JSON.stringify({ type: "launch", tasks }).length;

describe("launchFrames: one agent's launches of one round", () => {
  it("go in ONE frame when they fit, in order", () => {
    const tasks = Array.from({ length: 500 }, (_, i) => task(i));
    const frames = launchFrames(tasks);
    expect(frames).toHaveLength(1);
    expect(frames[0]).toBe(tasks);
  });

  it("are split into frames the agent accepts when one frame would pass MAX_FRAME_BYTES, keeping every task once and in order", () => {
    // 40 tasks of ~64 KB: about 2.5 MB in one frame, past the 1 MiB limit.
    const tasks = Array.from({ length: 40 }, (_, i) => task(i, 64 * 1024));
    expect(frameBytes(tasks)).toBeGreaterThan(MAX_FRAME_BYTES);
    const frames = launchFrames(tasks);
    expect(frames.length).toBeGreaterThan(2);
    expect(frames.flat().map((t) => t.taskId)).toEqual(tasks.map((t) => t.taskId));
    for (const f of frames) {
      expect(frameBytes(f)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      // What the agent does with each: parse it against the protocol.
      expect(parseFrame(Launch, JSON.stringify({ type: "launch", tasks: f })).ok).toBe(true);
    }
  });

  it("leave a single task past the limit alone in its frame (no split can help it) without touching the others", () => {
    const tasks = [task(0), task(1, MAX_FRAME_BYTES), task(2)];
    const frames = launchFrames(tasks);
    expect(frames.map((f) => f.map((t) => t.taskId))).toEqual([["app.instance-0._app.1"], ["app.instance-1._app.1"], ["app.instance-2._app.1"]]);
  });
});
