import { afterEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { MAX_FRAME_BYTES, Status } from "../protocol/index.ts";
import { openAgentDb } from "./agent-db.ts";
import { Outbox } from "./outbox.ts";
import type { StatusFrame } from "./outbox.ts";
import { collectLog } from "./test-support/log-collector.ts";

const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** Resolves after the current event-loop turn, once the outbox's end-of-turn flush has run. */
const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function workDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-outbox-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An outbox on its own connection to the work dir's database, as a fresh agent process would open it. */
function openOutbox(dir: string, options: { coalesceMs?: number; maxFrameUpdates?: number } = {}) {
  const db: Database = openAgentDb(dir);
  const logs = collectLog();
  const outbox = new Outbox(db, { log: logs.log, ...options });
  cleanups.push(() => {
    outbox.close();
    db.close();
  });
  const frames: StatusFrame[] = [];
  return { outbox, frames, send: (frame: StatusFrame) => void frames.push(frame), logs };
}

describe("outbox", () => {
  test("updates survive a restart and leave only when acked", () => {
    const dir = workDir();
    const before = openOutbox(dir).outbox;
    const written = ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"].map((state) => before.add({ taskId: "t1", state: state as "TASK_RUNNING" }));
    before.close();

    const after = openOutbox(dir).outbox;
    expect(after.pending()).toEqual(written);
    expect(after.ack([written[1]?.updateId ?? "", "not-an-update"])).toEqual([{ updateId: written[1]?.updateId ?? "", taskId: "t1", state: "TASK_RUNNING" }]);
    expect(after.pending().map((update) => update.state)).toEqual(["TASK_STARTING", "TASK_FINISHED"]);
    // Acking twice is harmless: the master may ack a resend it already applied.
    expect(after.ack([written[1]?.updateId ?? ""])).toEqual([]);
    expect(openOutbox(dir).outbox.count()).toBe(2);
  });

  test("each update gets a UUID and a timestamp and passes the protocol schema", () => {
    const { outbox } = openOutbox(workDir());
    const update = outbox.add({ taskId: "t1", state: "TASK_FAILED", message: "x".repeat(10_000) });
    expect(update.updateId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Math.abs(update.timestamp - Date.now())).toBeLessThan(5_000);
    expect(update.message?.length).toBe(4096);
    expect(Status.safeParse({ type: "status", updates: [update] }).success).toBe(true);
  });

  test("an update the master would refuse is not stored: it would poison every frame it rides in", () => {
    const { outbox } = openOutbox(workDir());
    expect(() => outbox.add({ taskId: "", state: "TASK_LOST" })).toThrow();
    expect(() => outbox.add({ taskId: "x".repeat(513), state: "TASK_LOST" })).toThrow();
    expect(outbox.count()).toBe(0);
  });

  test("nothing is sent while disconnected; connecting sends everything unacked, in order", async () => {
    const { outbox, frames, send, logs } = openOutbox(workDir());
    const written = Array.from({ length: 5 }, (_, i) => outbox.add({ taskId: `t${i}`, state: "TASK_RUNNING" }));
    await Bun.sleep(20);
    expect(frames).toEqual([]);
    outbox.connect(send);
    expect(frames.map((frame) => frame.updates)).toEqual([written]);
    expect(logs.events("outbox_resent")[0]?.count).toBe(5);
  });

  test("updates written within the coalescing window go out in one frame", async () => {
    const { outbox, frames, send } = openOutbox(workDir(), { coalesceMs: 50 });
    outbox.connect(send);
    await Bun.sleep(60);
    for (let i = 0; i < 200; i++) outbox.add({ taskId: `t${i}`, state: "TASK_STARTING" });
    // Sent once the writing turn has finished, not during it.
    expect(frames).toEqual([]);
    await endOfTurn();
    expect(frames.map((frame) => frame.updates.length)).toEqual([200]);
    // Within the window, updates wait for its end and share a frame; nothing is sent twice.
    outbox.add({ taskId: "a", state: "TASK_RUNNING" });
    await Bun.sleep(1);
    outbox.add({ taskId: "b", state: "TASK_RUNNING" });
    await Bun.sleep(1);
    expect(frames).toHaveLength(1);
    await Bun.sleep(80);
    expect(frames.map((frame) => frame.updates.length)).toEqual([200, 2]);
    // After a quiet spell, a lone update is not held back.
    await Bun.sleep(60);
    outbox.add({ taskId: "late", state: "TASK_RUNNING" });
    await endOfTurn();
    expect(frames.map((frame) => frame.updates.length)).toEqual([200, 2, 1]);
  });

  test("after a quiet spell, what one turn writes across promise hops shares a frame, sent at the turn's end", async () => {
    const { outbox, frames, send } = openOutbox(workDir(), { coalesceMs: 1_000 });
    outbox.connect(send);
    // A launch whose driver starts without waiting on I/O: STARTING, a few awaits, RUNNING.
    outbox.add({ taskId: "t1", state: "TASK_STARTING" });
    for (let i = 0; i < 5; i++) await Promise.resolve();
    outbox.add({ taskId: "t1", state: "TASK_RUNNING" });
    expect(frames).toEqual([]);
    await endOfTurn();
    // One frame, at once: with a 1 s window, a second frame would have waited for its end.
    expect(frames.map((frame) => frame.updates.map((update) => update.state))).toEqual([["TASK_STARTING", "TASK_RUNNING"]]);
  });

  test("a disconnect cancels the end-of-turn flush; the update goes out with the next session", async () => {
    const { outbox, frames, send } = openOutbox(workDir());
    outbox.connect(send);
    outbox.add({ taskId: "t1", state: "TASK_RUNNING" });
    outbox.disconnect();
    await endOfTurn();
    expect(frames).toEqual([]);
    outbox.connect(send);
    expect(frames.map((frame) => frame.updates.length)).toEqual([1]);
  });

  test("frames are capped by count, and every reconnect resends all that is unacked", () => {
    const { outbox, frames, send } = openOutbox(workDir(), { maxFrameUpdates: 1_000 });
    const written = Array.from({ length: 2_500 }, (_, i) => outbox.add({ taskId: `t${i}`, state: "TASK_RUNNING" }));
    outbox.connect(send);
    expect(frames.map((frame) => frame.updates.length)).toEqual([1_000, 1_000, 500]);
    expect(frames.flatMap((frame) => frame.updates.map((update) => update.updateId))).toEqual(written.map((update) => update.updateId));

    outbox.disconnect();
    outbox.ack(written.slice(0, 2_000).map((update) => update.updateId));
    frames.length = 0;
    outbox.connect(send);
    expect(frames.map((frame) => frame.updates.length)).toEqual([500]);
    expect(frames[0]?.updates[0]?.updateId).toBe(written[2_000]?.updateId ?? "");
  });

  test("frames stay under the protocol's size limit however long the messages", () => {
    const { outbox, frames, send } = openOutbox(workDir());
    for (let i = 0; i < 600; i++) outbox.add({ taskId: `t${i}`, state: "TASK_FAILED", message: "e".repeat(4096) });
    outbox.connect(send);
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.reduce((sum, frame) => sum + frame.updates.length, 0)).toBe(600);
    for (const frame of frames) {
      const text = JSON.stringify(frame);
      expect(text.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      expect(Status.safeParse(JSON.parse(text)).success).toBe(true);
    }
  });

  test("drain resolves once the master acked everything, or gives up after the timeout", async () => {
    const { outbox } = openOutbox(workDir());
    const update = outbox.add({ taskId: "t1", state: "TASK_RUNNING" });
    expect(await outbox.drain(30)).toBe(false);
    setTimeout(() => outbox.ack([update.updateId]), 20);
    expect(await outbox.drain(1_000)).toBe(true);
  });
});
