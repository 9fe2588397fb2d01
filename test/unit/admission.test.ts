import { describe, expect, it } from "vitest";
import {
  AdmissionBucket,
  BURST_SECONDS,
  DEFAULT_ADMISSION_PER_SECOND,
  MAX_RECONNECT_WINDOW_MS,
  MAX_RETRY_AFTER_MS,
  MIN_RECONNECT_WINDOW_MS,
  admissionRate,
  reconnectWindowMs,
} from "../../control/cluster/admission.ts";
import { aliveTasks, taskSetDigest } from "../../protocol/index.ts";

describe("the admission bucket", () => {
  it("admits BURST_SECONDS of the rate at once, then refuses with successive slots 1/rate apart", () => {
    const bucket = new AdmissionBucket(100, 0);
    const first = Array.from({ length: 100 * BURST_SECONDS }, () => bucket.take(0));
    expect(first.every((a) => a.admitted)).toBe(true);
    const refused = Array.from({ length: 5 }, () => bucket.take(0));
    expect(refused.map((a) => (a.admitted ? -1 : a.retryAfterMs))).toEqual([10, 20, 30, 40, 50]);
  });

  it("refills at the rate: a caller that comes back at its slot finds a token", () => {
    const bucket = new AdmissionBucket(10, 0, 1);
    expect(bucket.take(0).admitted).toBe(true);
    const refused = bucket.take(0);
    expect(refused).toEqual({ admitted: false, retryAfterMs: 100 });
    expect(bucket.take(100).admitted).toBe(true);
    // Tokens do not pile up beyond the burst while idle.
    expect(bucket.take(60_000).admitted).toBe(true);
    expect(bucket.take(60_000).admitted).toBe(false);
  });

  it("never promises a slot further than MAX_RETRY_AFTER_MS", () => {
    const bucket = new AdmissionBucket(1, 0);
    let last = 0;
    for (let i = 0; i < 1000; i++) {
      const a = bucket.take(0);
      if (!a.admitted) last = a.retryAfterMs;
    }
    expect(last).toBe(MAX_RETRY_AFTER_MS);
  });

  it("sizes the reconnect window to the cluster: agents over rate, within bounds", () => {
    expect(reconnectWindowMs(10_000, 400)).toBe(25_000);
    expect(reconnectWindowMs(1, 400)).toBe(MIN_RECONNECT_WINDOW_MS);
    expect(reconnectWindowMs(10_000_000, 400)).toBe(MAX_RECONNECT_WINDOW_MS);
  });

  it("reads the Worker var, falling back to the default for anything but a positive number", () => {
    expect(admissionRate("250")).toBe(250);
    for (const bad of [undefined, "", "0", "-5", "many"]) expect(admissionRate(bad)).toBe(DEFAULT_ADMISSION_PER_SECOND);
  });
});

describe("the resume digest", () => {
  const a = { taskId: "web.1", state: "TASK_RUNNING" as const };
  const b = { taskId: "web.2", state: "TASK_STARTING" as const };

  it("is the same for the same tasks in any order, and differs when a task or a state differs", () => {
    expect(taskSetDigest([a, b])).toBe(taskSetDigest([b, a]));
    expect(taskSetDigest([a, b])).not.toBe(taskSetDigest([a]));
    expect(taskSetDigest([a, b])).not.toBe(taskSetDigest([a, { ...b, state: "TASK_RUNNING" }]));
    expect(taskSetDigest([a])).not.toBe(taskSetDigest([{ ...a, taskId: "web.10" }]));
    expect(taskSetDigest([])).not.toBe(taskSetDigest([a]));
  });

  it("is taken by the agent over its live tasks only: one that ended is settled through its status update", () => {
    const reported = [a, { taskId: "web.3", state: "TASK_FINISHED" as const }];
    expect(taskSetDigest(aliveTasks(reported))).toBe(taskSetDigest([a]));
  });
});
