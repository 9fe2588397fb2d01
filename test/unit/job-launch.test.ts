import { describe, expect, it } from "vitest";
import { parseJob, type RunSpec } from "../../control/cluster/frameworks/metronome/job-spec.ts";
import { newRunId, newTaskId, runRequest, runTaskLaunch } from "../../control/cluster/frameworks/metronome/launch.ts";

/** What a run's task asks the allocator for and what the agent is sent. */

function runSpec(run: Record<string, unknown>): RunSpec {
  const parsed = parseJob({ id: "etl.daily", run });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
  return parsed.spec.run;
}

describe("job task launches", () => {
  it("names runs and tasks as Metronome does", () => {
    const runId = newRunId(Date.parse("2026-07-15T13:02:59.735Z"));
    expect(runId).toMatch(/^20260715130259[a-z0-9]{5}$/);
    expect(newTaskId("etl.daily", runId)).toMatch(new RegExp(`^etl\\.daily_${runId}\\.[0-9a-f-]{36}$`));
  });

  it("asks for one task without ports, with Metronome's constraints in the allocator's terms", () => {
    const spec = runSpec({
      cmd: "x",
      cpus: 0.5,
      mem: 64,
      disk: 10,
      placement: {
        constraints: [
          { attribute: "rack", operator: "EQ", value: "r1" },
          { attribute: "hostname", operator: "UNLIKE", value: "old-.*" },
        ],
      },
    });
    expect(runRequest("etl.daily", spec)).toEqual({
      framework: "metronome",
      group: "etl.daily",
      count: 1,
      cpus: 0.5,
      mem: 64,
      disk: 10,
      gpus: 0,
      ports: [],
      constraints: [
        { field: "rack", operator: "IS", value: "r1" },
        { field: "hostname", operator: "UNLIKE", value: "old-.*" },
      ],
      driver: "exec",
    });
  });

  it("runs cmd under a shell with the job's env over the master's, as the job's user", () => {
    const launch = runTaskLaunch(
      "etl.daily",
      runSpec({ cmd: "etl --all", user: "etl", env: { HOST: "mine", MODE: "all" }, taskKillGracePeriodSeconds: 2.5 }),
      "t1",
      "node-1",
    );
    expect(launch).toEqual({
      taskId: "t1",
      name: "etl.daily",
      command: { shell: "etl --all" },
      user: "etl",
      resources: { cpus: 1, mem: 128, disk: 0, gpus: 0 },
      ports: [],
      env: { HOST: "mine", MESOS_TASK_ID: "t1", MODE: "all" },
      killGracePeriodMs: 2500,
    });
  });

  it("runs a docker image on the host network, args to its entrypoint, with its volumes", () => {
    const spec = runSpec({
      args: ["--once"],
      docker: { image: "dcx-test/busybox:1", forcePullImage: true },
      volumes: [{ containerPath: "/data", hostPath: "/srv/data", mode: "RO" }],
    });
    expect(runRequest("etl.daily", spec).driver).toBe("docker");
    const launch = runTaskLaunch("etl.daily", spec, "t2", "node-2");
    expect(launch.command).toEqual({ args: ["--once"] });
    expect(launch.container).toEqual({
      image: "dcx-test/busybox:1",
      forcePullImage: true,
      privileged: false,
      network: "HOST",
      parameters: [],
      portMappings: [],
      volumes: [{ containerPath: "/data", hostPath: "/srv/data", mode: "RO" }],
    });
    expect(runTaskLaunch("etl.daily", runSpec({ docker: { image: "busybox" } }), "t3", "h").command).toBeUndefined();
  });
});
