import { describe, expect, it } from "vitest";
import { Launch, MAX_FRAME_BYTES, type TaskLaunch, launchFrameTexts, parseFrame } from "../../protocol/messages.ts";

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

/** What the agent does with a frame: parse it against the protocol; the task ids it launches. */
function launched(text: string): string[] {
  const parsed = parseFrame(Launch, text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value.tasks.map((t) => t.taskId);
}

describe("launchFrameTexts: one agent's launches of one round", () => {
  it("go in ONE frame when they fit, in order, as JSON.stringify writes the frame", () => {
    const tasks = Array.from({ length: 500 }, (_, i) => task(i));
    const frames = launchFrameTexts(tasks);
    expect(frames).toEqual([JSON.stringify({ type: "launch", tasks })]);
  });

  it("are split into frames the agent accepts when one frame would pass MAX_FRAME_BYTES, keeping every task once and in order", () => {
    // 40 tasks of ~64 KB: about 2.5 MB in one frame, past the 1 MiB limit.
    const tasks = Array.from({ length: 40 }, (_, i) => task(i, 64 * 1024));
    expect(JSON.stringify({ type: "launch", tasks }).length).toBeGreaterThan(MAX_FRAME_BYTES);
    const frames = launchFrameTexts(tasks);
    // As many tasks per frame as fit: 15 of ~64 KB under 1 MiB, then 15, then 10.
    expect(frames).toHaveLength(3);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frames.flatMap(launched)).toEqual(tasks.map((t) => t.taskId));
  });

  it("fill a frame up to the limit exactly, and not one character past it", () => {
    // Two tasks whose frame is exactly MAX_FRAME_BYTES long: the second pads the rest (one comma between them).
    const pad = MAX_FRAME_BYTES - JSON.stringify({ type: "launch", tasks: [task(0), task(1)] }).length;
    const exact = [task(0), task(1, 200 + pad)];
    expect(JSON.stringify({ type: "launch", tasks: exact }).length).toBe(MAX_FRAME_BYTES);
    expect(launchFrameTexts(exact)).toHaveLength(1);
    const over = [task(0), task(1, 201 + pad)];
    expect(launchFrameTexts(over)).toEqual(over.map((t) => JSON.stringify({ type: "launch", tasks: [t] })));
  });

  it("leave a single task past the limit alone in its frame (no split can help it) without touching the others", () => {
    const tasks = [task(0), task(1, MAX_FRAME_BYTES), task(2)];
    const frames = launchFrameTexts(tasks);
    expect(frames).toEqual(tasks.map((t) => JSON.stringify({ type: "launch", tasks: [t] })));
    // The agent takes the frames around it.
    expect([frames[0], frames[2]].map((f) => launched(f ?? ""))).toEqual([["app.instance-0._app.1"], ["app.instance-2._app.1"]]);
  });
});
