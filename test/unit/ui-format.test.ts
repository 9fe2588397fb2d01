import { describe, expect, it } from "vitest";
import {
  appStatus,
  attributes,
  cpus,
  groupCounts,
  instancesSummary,
  megabytes,
  percent,
  portRanges,
  stateTone,
  taskState,
  time,
} from "../../control/ui/format.ts";
import { allocation, parseHistory } from "../../control/ui/client/history-samples.ts";

const app = { instances: 3, tasksRunning: 3, tasksStaged: 0, tasksHealthy: 0, tasksUnhealthy: 0, deployments: [] as { id: string }[] };

describe("UI formatting", () => {
  it("writes numbers and sizes as DC/OS does", () => {
    expect(cpus(0.1 + 0.2)).toBe("0.3");
    expect(megabytes(512)).toBe("512 MiB");
    expect(megabytes(1536)).toBe("1.5 GiB");
    expect(percent(1, 3)).toBe(33.3);
    expect(percent(1, 0)).toBe(0);
    expect(time("2026-11-29T21:37:05.123Z")).toBe("2026-11-29 21:37:05 UTC");
    expect(time("2016-07-15T13:02:59.735+0000")).toBe("2016-07-15 13:02:59 UTC");
    expect(time(null)).toBe("–");
    expect(
      portRanges([
        [31000, 32000],
        [80, 80],
      ]),
    ).toBe("31000-32000, 80");
    expect(attributes({ rack: "r1", n: 2 })).toBe("rack:r1; n:2");
  });

  it("names states and tones them", () => {
    expect(taskState("TASK_RUNNING")).toBe("RUNNING");
    expect(stateTone("TASK_RUNNING")).toBe("good");
    expect(stateTone("TASK_STAGING")).toBe("busy");
    expect(stateTone("TASK_FAILED")).toBe("bad");
    expect(stateTone("Suspended")).toBe("idle");
  });

  it("gives a service DC/OS's status", () => {
    expect(appStatus(app)).toBe("Running");
    expect(appStatus({ ...app, deployments: [{ id: "d" }] })).toBe("Deploying");
    expect(appStatus({ ...app, instances: 0, tasksRunning: 0 })).toBe("Suspended");
    expect(appStatus({ ...app, tasksRunning: 1 })).toBe("Waiting");
    expect(appStatus({ ...app, tasksRunning: 1 }, true)).toBe("Delayed");
    expect(instancesSummary({ ...app, tasksRunning: 2 })).toBe("2/3 running");
    expect(instancesSummary({ ...app, tasksHealthy: 1, healthChecks: [{}] })).toBe("3/3 running, 1 healthy");
  });

  it("sums a group's apps and counts them by status, the ones needing attention first", () => {
    const apps = [
      { ...app, id: "/a" },
      { ...app, id: "/b", tasksRunning: 1, tasksHealthy: 1, healthChecks: [{}] },
      { ...app, id: "/c", instances: 0, tasksRunning: 0 },
      { ...app, id: "/d", tasksRunning: 0 },
    ];
    expect(groupCounts(apps, (a) => a.id === "/d")).toEqual({
      apps: 4,
      running: 4,
      instances: 9,
      healthy: 1,
      checked: 3,
      statuses: [
        ["Delayed", 1],
        ["Waiting", 1],
        ["Running", 1],
        ["Suspended", 1],
      ],
    });
    expect(groupCounts([], () => false)).toEqual({ apps: 0, running: 0, instances: 0, healthy: 0, checked: 0, statuses: [] });
  });
});

describe("history samples", () => {
  it("reads the history service's samples, oldest first, in seconds", () => {
    const samples = parseHistory({
      resolution: "minute",
      intervalMs: 60_000,
      samples: [
        {
          at: 1795975260000,
          samples: 1,
          cpus: { used: 1, total: 4 },
          mem: { used: 512, total: 1024 },
          disk: { used: 0, total: 0 },
          tasks: { TASK_RUNNING: 3 },
          agents: {},
          deployments: 0,
        },
        {
          at: 1795975200000,
          samples: 1,
          cpus: { used: 2, total: 4 },
          mem: { used: 0, total: 1024 },
          disk: { used: 10, total: 100 },
          tasks: {},
          agents: {},
          deployments: 1,
        },
      ],
    });
    expect(samples.map((s) => s.at)).toEqual([1795975200, 1795975260]);
    expect(samples[1]).toEqual({ at: 1795975260, cpus: { used: 1, total: 4 }, mem: { used: 512, total: 1024 }, disk: { used: 0, total: 0 }, tasksRunning: 3 });
    expect(samples[0]?.tasksRunning).toBe(0);
    expect(allocation(samples[1]?.cpus ?? { used: 0, total: 0 })).toBe(25);
    expect(allocation(samples[1]?.disk ?? { used: 0, total: 0 })).toBe(0);
  });

  it("skips entries it cannot draw, and answers nothing for a body of another shape", () => {
    const samples = parseHistory({ samples: [{ at: "yesterday", cpus: { used: 1, total: 1 } }, { at: 60_000, cpus: { used: 1, total: 2 } }, null] });
    expect(samples).toEqual([]);
    expect(parseHistory([{ at: 1 }])).toEqual([]);
    expect(parseHistory("nonsense")).toEqual([]);
  });
});
