import { describe, expect, test } from "bun:test";
import { MEMORY_LIMIT_EXCEEDED, outcomeOf } from "./task-outcome.ts";

describe("task outcome", () => {
  test("a task the OOM killer struck failed with 'memory limit exceeded', even if it exited 0", () => {
    expect(outcomeOf({ kind: "exited", code: 0, stderrTail: "", oomKilled: true }, false)).toEqual({
      state: "TASK_FAILED",
      message: `${MEMORY_LIMIT_EXCEEDED} (exited with code 0)`,
    });
    expect(outcomeOf({ kind: "unknown", reason: "its wrapper was killed", stderrTail: "oops", oomKilled: true }, false)).toEqual({
      state: "TASK_FAILED",
      message: `${MEMORY_LIMIT_EXCEEDED} (its wrapper was killed); stderr: oops`,
    });
  });

  test("a task being killed ends KILLED, whatever took it", () => {
    expect(outcomeOf({ kind: "signaled", signal: "SIGKILL", stderrTail: "", oomKilled: true }, true).state).toBe("TASK_KILLED");
    expect(outcomeOf({ kind: "exited", code: 0, stderrTail: "" }, false).state).toBe("TASK_FINISHED");
  });
});
