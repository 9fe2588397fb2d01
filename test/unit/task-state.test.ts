import { describe, expect, it } from "vitest";
import { TASK_STATES, type TaskState, isAlive, isTerminal } from "../../protocol/task-state.ts";
import { accepts, endsTask } from "../../control/cluster/tasks.ts";

const live = (state: TaskState) => ({ state, endedAt: null });

describe("task state machine", () => {
  it("moves forward through STAGING → STARTING → RUNNING → KILLING", () => {
    expect(accepts(live("TASK_STAGING"), "TASK_STARTING")).toBe(true);
    expect(accepts(live("TASK_STARTING"), "TASK_RUNNING")).toBe(true);
    expect(accepts(live("TASK_STAGING"), "TASK_RUNNING")).toBe(true);
    expect(accepts(live("TASK_RUNNING"), "TASK_KILLING")).toBe(true);
  });

  it("drops stale updates that would move a task backwards", () => {
    expect(accepts(live("TASK_RUNNING"), "TASK_STARTING")).toBe(false);
    expect(accepts(live("TASK_RUNNING"), "TASK_STAGING")).toBe(false);
    expect(accepts(live("TASK_KILLING"), "TASK_RUNNING")).toBe(false);
  });

  it("takes RUNNING again (health changes arrive that way) but not a repeated STARTING", () => {
    expect(accepts(live("TASK_RUNNING"), "TASK_RUNNING")).toBe(true);
    expect(accepts(live("TASK_STARTING"), "TASK_STARTING")).toBe(false);
  });

  it("accepts every terminal state from any live state, and nothing after the end", () => {
    for (const from of ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"] as const) {
      for (const to of TASK_STATES.filter(isTerminal)) expect(accepts(live(from), to), `${from} → ${to}`).toBe(true);
    }
    for (const to of TASK_STATES) expect(accepts({ state: "TASK_FINISHED", endedAt: 1 }, to)).toBe(false);
  });

  it("lets an unreachable or lost task come back to RUNNING when its agent returns", () => {
    expect(accepts(live("TASK_UNREACHABLE"), "TASK_RUNNING")).toBe(true);
    expect(accepts(live("TASK_LOST"), "TASK_RUNNING")).toBe(true);
  });

  it("an agent's LOST or UNKNOWN ends the task; UNREACHABLE does not", () => {
    expect(endsTask("TASK_LOST")).toBe(true);
    expect(endsTask("TASK_UNKNOWN")).toBe(true);
    expect(endsTask("TASK_FAILED")).toBe(true);
    expect(endsTask("TASK_UNREACHABLE")).toBe(false);
    expect(endsTask("TASK_RUNNING")).toBe(false);
    expect(accepts(live("TASK_RUNNING"), "TASK_LOST")).toBe(true);
  });

  it("only alive states are worth a kill", () => {
    expect(TASK_STATES.filter(isAlive)).toEqual(["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]);
  });
});
