import { describe, expect, it } from "vitest";
import { APP_LIST_EMBEDS, APP_SHOW_EMBEDS, resolveAppEmbeds, resolveGroupEmbeds } from "../../control/cluster/frameworks/marathon/embeds.ts";
import { taskStatsByVersion } from "../../control/cluster/frameworks/marathon/task-stats.ts";

/** Marathon's `embed` parameters, and the `taskStats` they can ask for. */

const sorted = (r: ReturnType<typeof resolveAppEmbeds>) => (r.ok ? [...r.embeds].sort() : r);

describe("resolveAppEmbeds", () => {
  it("adds what is asked to the route's defaults, with any of Marathon's prefixes, repeated or comma-separated", () => {
    expect(sorted(resolveAppEmbeds([], APP_LIST_EMBEDS))).toEqual(["counts", "deployments", "lastTaskFailure"]);
    expect(sorted(resolveAppEmbeds(["apps.taskStats", "app.readiness,tasks"], []))).toEqual(["deployments", "readiness", "taskStats", "tasks"]);
    expect(sorted(resolveAppEmbeds(["group.apps.counts"], []))).toEqual(["counts"]);
    expect(sorted(resolveAppEmbeds([], APP_SHOW_EMBEDS))).toEqual(["counts", "deployments", "lastTaskFailure", "tasks"]);
  });

  it("expands deprecated `failures` as Marathon does", () => {
    expect(sorted(resolveAppEmbeds(["apps.failures"], []))).toEqual(["deployments", "lastTaskFailure", "tasks"]);
  });

  it("returns the first value that is not an embed", () => {
    expect(resolveAppEmbeds(["apps.tasks", "apps.everything"], [])).toEqual({ ok: false, unknown: "apps.everything" });
    expect(resolveAppEmbeds(["apps.constructor"], [])).toEqual({ ok: false, unknown: "apps.constructor" });
  });
});

describe("resolveGroupEmbeds", () => {
  const resolved = (values: string[]) => {
    const r = resolveGroupEmbeds(values);
    return r.ok ? { group: [...r.embeds.group].sort(), app: [...r.embeds.app].sort() } : r;
  };

  it("defaults to apps, pods and groups; naming any embed replaces the defaults", () => {
    expect(resolved([])).toEqual({ group: ["apps", "groups", "pods"], app: [] });
    expect(resolved(["group.groups"])).toEqual({ group: ["groups"], app: [] });
    expect(resolved(["group.apps", "group.apps.tasks,group.apps.counts"])).toEqual({ group: ["apps"], app: ["counts", "deployments", "tasks"] });
  });

  it("refuses app embeds without the group.apps. prefix", () => {
    expect(resolveGroupEmbeds(["apps.tasks"])).toEqual({ ok: false, unknown: "apps.tasks" });
    expect(resolveGroupEmbeds(["group.apps.nope"])).toEqual({ ok: false, unknown: "group.apps.nope" });
  });
});

describe("taskStatsByVersion", () => {
  const NOW = Date.parse("2026-11-01T00:10:00.000Z");
  const info = { lastScalingAt: "2026-11-01T00:05:00.000Z", lastConfigChangeAt: "2026-11-01T00:02:00.000Z" };
  const task = (version: string, state: string, startedSecondsAgo: number | null, healthy: boolean | null = null) => ({
    version,
    state,
    healthy,
    startedAt: startedSecondsAgo === null ? null : NOW - startedSecondsAgo * 1000,
  });

  it("splits live tasks by the app's last scaling and config change, with life times of started tasks", () => {
    const stats = taskStatsByVersion(
      [
        task("2026-11-01T00:01:00.000Z", "TASK_RUNNING", 500, false),
        task("2026-11-01T00:02:00.000Z", "TASK_RUNNING", 100, true),
        task("2026-11-01T00:05:00.000Z", "TASK_RUNNING", 30, true),
        task("2026-11-01T00:05:00.000Z", "TASK_STAGING", null),
      ],
      info,
      NOW,
    );
    expect(stats.totalSummary).toEqual({
      stats: { counts: { staged: 1, running: 3, healthy: 2, unhealthy: 1 }, lifeTime: { averageSeconds: 210, medianSeconds: 100 } },
    });
    expect(stats.startedAfterLastScaling?.stats).toEqual({
      counts: { staged: 1, running: 1, healthy: 1, unhealthy: 0 },
      lifeTime: { averageSeconds: 30, medianSeconds: 30 },
    });
    expect(stats.withLatestConfig?.stats.counts).toEqual({ staged: 1, running: 2, healthy: 2, unhealthy: 0 });
    expect(stats.withOutdatedConfig?.stats.counts).toEqual({ staged: 0, running: 1, healthy: 0, unhealthy: 1 });
  });

  it("leaves out kinds with no task, and life times when no task has started", () => {
    expect(taskStatsByVersion([], info, NOW)).toEqual({});
    const staging = taskStatsByVersion([task("2026-11-01T00:05:00.000Z", "TASK_STAGING", null)], info, NOW);
    expect(Object.keys(staging)).toEqual(["startedAfterLastScaling", "withLatestConfig", "totalSummary"]);
    expect(staging.totalSummary).toEqual({ stats: { counts: { staged: 1, running: 0, healthy: 0, unhealthy: 0 } } });
  });
});
