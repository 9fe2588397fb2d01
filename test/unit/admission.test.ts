import { describe, expect, it, vi } from "vitest";
import { MAX_RECONNECT_WINDOW_MS, MIN_RECONNECT_WINDOW_MS, reconnectWindowMs } from "../../control/cluster/admission.ts";
import {
  AdmissionBucket,
  BURST_SECONDS,
  DEFAULT_ADMISSION_PER_SECOND,
  GatewayAdmission,
  MAX_HOLD_MS,
  MAX_RETRY_AFTER_MS,
  admissionRate,
  understandsRetry,
} from "../../control/gateway/admission.ts";
import { aliveTasks, taskSetDigest } from "../../protocol/index.ts";

describe("the admission bucket", () => {
  it("admits BURST_SECONDS of the rate at once, then the next token 1/rate later", () => {
    const bucket = new AdmissionBucket(100, 0);
    const first = Array.from({ length: 100 * BURST_SECONDS }, () => bucket.tryTake(0));
    expect(first.every((taken) => taken)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.untilToken(0)).toBe(10);
    expect(bucket.tryTake(10)).toBe(true);
  });

  it("refills at the rate: a caller that comes back at its slot finds a token", () => {
    const bucket = new AdmissionBucket(10, 0, 1);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.untilToken(0)).toBe(100);
    expect(bucket.tryTake(100)).toBe(true);
    // Tokens do not pile up beyond the burst while idle.
    expect(bucket.tryTake(60_000)).toBe(true);
    expect(bucket.tryTake(60_000)).toBe(false);
  });

  it("never promises a slot further than MAX_RETRY_AFTER_MS", () => {
    // Nobody is held (a hold limit of 0): every arrival over the rate is turned away with a slot.
    const admission = new GatewayAdmission<string>(1, () => {}, 0);
    let last = 0;
    for (let i = 0; i < 1000; i++) {
      const a = admission.arrive(`s${i}`, "open", 1, 0);
      if (typeof a === "object") last = a.retryAfterMs;
    }
    expect(last).toBe(MAX_RETRY_AFTER_MS);
  });

  it("sizes the reconnect window to the cluster: agents over rate, within bounds", () => {
    expect(reconnectWindowMs(10_000, 400)).toBe(25_000);
    expect(reconnectWindowMs(1, 400)).toBe(MIN_RECONNECT_WINDOW_MS);
    expect(reconnectWindowMs(10_000_000, 400)).toBe(MAX_RECONNECT_WINDOW_MS);
  });

  it("a gateway admits its share (1/G) at once, holds the rest in arrival order with their frames, and releases one per token", () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const released: string[] = [];
      const admission = new GatewayAdmission<string>(300, (events) => released.push(...events));
      // G = 3: a share of 100/s, one second of it at once.
      const arrivals = Array.from({ length: 103 }, (_, i) => admission.arrive(`s${i}`, `open-${i}`, 3, 0));
      expect(arrivals.filter((a) => a === "admitted")).toHaveLength(100);
      expect(arrivals.slice(100)).toEqual(["held", "held", "held"]);
      expect(admission.hold("s101", "frame-101")).toBe(true);
      expect(admission.hold("s5", "frame-5")).toBe(false);
      // One that leaves before its turn is forgotten.
      expect(admission.left("s102")).toBe(true);
      vi.advanceTimersByTime(10);
      expect(released).toEqual(["open-100"]);
      vi.advanceTimersByTime(10);
      expect(released).toEqual(["open-100", "open-101", "frame-101"]);
      expect(admission.waiting).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("turns an agent away, with slots 1/share apart, only when its wait would pass the hold limit; a new G starts a new share", () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const admission = new GatewayAdmission<string>(10, () => {});
      // G = 1: 10/s, 10 at once, then held while the wait stays within MAX_HOLD_MS (100 of them).
      const arrivals = Array.from({ length: 113 }, (_, i) => admission.arrive(`s${i}`, "open", 1, 0));
      expect(arrivals.filter((a) => a === "admitted")).toHaveLength(10);
      expect(arrivals.filter((a) => a === "held")).toHaveLength(MAX_HOLD_MS / 100);
      expect(arrivals.slice(10 + MAX_HOLD_MS / 100)).toEqual([{ retryAfterMs: 10_100 }, { retryAfterMs: 10_200 }, { retryAfterMs: 10_300 }]);
      // G = 2: a share of 5/s, its own bucket.
      expect(admission.bucketFor(2, 0).perSecond).toBe(5);
    } finally {
      vi.useRealTimers();
    }
  });

  it("sends `retry` only to an agent whose first frame is a register carrying `resume`", () => {
    expect(understandsRetry(JSON.stringify({ type: "register", resume: { digest: "x" } }))).toBe(true);
    expect(understandsRetry(JSON.stringify({ type: "register" }))).toBe(false);
    expect(understandsRetry(JSON.stringify({ type: "status", resume: {} }))).toBe(false);
    expect(understandsRetry("not json")).toBe(false);
    expect(understandsRetry(new ArrayBuffer(4))).toBe(false);
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
