import { describe, expect, it } from "vitest";
import { splitAppPath } from "../../control/api/marathon/apps.ts";
import { splitGroupPath } from "../../control/api/marathon/groups.ts";
import { REJECT_REASONS, rejectReason, rejectSummary } from "../../control/api/marathon/queue.ts";
import { appWire, deploymentWire, groupWire, queueEntryWire, taskWire } from "../../control/api/marathon/wire.ts";
import { listValues, parseFlag, pathId } from "../../control/api/query.ts";
import { planGroup } from "../../control/cluster/frameworks/marathon/deployments.ts";
import { ApiError } from "../../control/errors.ts";
import { basicPassword } from "../../control/http/middleware.ts";
import { valid } from "./app-fixture.ts";

describe("query parameters as Marathon reads them", () => {
  it("reads booleans in any case, 1/0 and the bare flag, with a fallback when absent", () => {
    for (const v of ["true", "True", "TRUE", "1", "", " true "]) expect(parseFlag("force", v), v).toBe(true);
    for (const v of ["false", "False", "FALSE", "0"]) expect(parseFlag("force", v), v).toBe(false);
    expect(parseFlag("force", undefined)).toBe(false);
    expect(parseFlag("partialUpdate", undefined, true)).toBe(true);
  });

  it("refuses any other value with a 400 naming the parameter", () => {
    const err = (() => {
      try {
        parseFlag("scale", "yes");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: "malformed", details: [{ path: "scale", errors: [expect.stringMatching(/'yes'/)] }] });
  });

  it("reads list parameters repeated, comma-separated, or both, in order and without empty entries", () => {
    expect(listValues(["apps.tasks", "apps.counts"])).toEqual(["apps.tasks", "apps.counts"]);
    expect(listValues(["apps.tasks,apps.counts"])).toEqual(["apps.tasks", "apps.counts"]);
    expect(listValues(["a, b", "", "c,,"])).toEqual(["a", "b", "c"]);
    expect(listValues(undefined)).toEqual([]);
  });
});

describe("ids in paths, with or without their leading slash", () => {
  it("collapses slashes as Marathon's PathId does", () => {
    for (const raw of ["web", "/web", "//web", "web/", "/web//"]) expect(pathId(raw), raw).toBe("/web");
    expect(pathId("a//b")).toBe("/a/b");
    expect(pathId("")).toBe("/");
  });

  it("reads app paths and what follows them on every app route", () => {
    expect(splitAppPath("/shop/web")).toEqual({ id: "/shop/web", suffix: { kind: "app" } });
    expect(splitAppPath("//shop/web")).toEqual({ id: "/shop/web", suffix: { kind: "app" } });
    expect(splitAppPath("/shop/web/restart")).toEqual({ id: "/shop/web", suffix: { kind: "restart" } });
    expect(splitAppPath("//web/tasks/web.instance-1._app.1")).toEqual({ id: "/web", suffix: { kind: "tasks", taskId: "web.instance-1._app.1" } });
    expect(splitAppPath("/web/versions/2026-01-01T00:00:00.000Z")).toEqual({ id: "/web", suffix: { kind: "versions", version: "2026-01-01T00:00:00.000Z" } });
    expect(() => splitAppPath("/Web")).toThrow(ApiError);
  });

  it("reads group paths the same way", () => {
    for (const raw of ["/prod", "prod", "//prod", "/prod/"]) expect(splitGroupPath(raw), raw).toEqual({ id: "/prod", kind: "group" });
    expect(splitGroupPath("")).toEqual({ id: "/", kind: "group" });
    expect(splitGroupPath("//prod/versions")).toEqual({ id: "/prod", kind: "versions" });
    expect(() => splitGroupPath("/Prod")).toThrow(/Invalid group id/);
  });
});

describe("Marathon's launch-queue reasons", () => {
  it("names DCX's reasons as Marathon does, leaving out agents a refuse filter kept back", () => {
    expect(rejectReason("insufficient cpus")).toBe("InsufficientCpus");
    expect(rejectReason("insufficient mem")).toBe("InsufficientMemory");
    expect(rejectReason("port 80 in use")).toBe("InsufficientPorts");
    expect(rejectReason("constraint hostname:UNIQUE")).toBe("UnfulfilledConstraint");
    expect(rejectReason("agent does not run Docker")).toBe("UnfulfilledConstraint");
    expect(rejectReason("declined (refuse filter)")).toBeUndefined();
  });

  it("counts them as Marathon's funnel: every reason, in order, each seeing what the ones before let through", () => {
    const { summary, unused } = rejectSummary({ "constraint rack:IS:a": 1, "insufficient cpus": 2, "insufficient mem": 2, "declined (refuse filter)": 1 }, 5);
    expect(summary.map((r) => r.reason)).toEqual([...REJECT_REASONS]);
    const row = (reason: string) => summary.find((r) => r.reason === reason);
    expect(row("UnfulfilledConstraint")).toEqual({ reason: "UnfulfilledConstraint", declined: 1, processed: 4 });
    expect(row("InsufficientCpus")).toEqual({ reason: "InsufficientCpus", declined: 2, processed: 3 });
    expect(row("InsufficientMemory")).toEqual({ reason: "InsufficientMemory", declined: 1, processed: 1 });
    expect(row("InsufficientDisk")).toEqual({ reason: "InsufficientDisk", declined: 0, processed: 0 });
    expect(unused).toBe(4);
  });
});

describe("bodies with only Marathon's fields", () => {
  it("drops DCX's additions from tasks, deployments, queue entries and groups, nested ones too", () => {
    const task = { id: "t", appId: "/a", message: "exited 1" };
    expect(taskWire(task)).toEqual({ id: "t", appId: "/a" });
    expect(appWire({ id: "/a", tasks: [task] })).toEqual({ id: "/a", tasks: [{ id: "t", appId: "/a" }] });
    expect(deploymentWire({ id: "d", waiting: { instances: 1 } }, false)).toEqual({ id: "d" });
    expect(deploymentWire({ id: "d", waiting: { instances: 1 } }, true)).toEqual({ id: "d", waiting: { instances: 1 } });
    expect(queueEntryWire({ count: 1, role: "*", waitingReason: "backoff", app: { id: "/a", tasks: [task] } })).toEqual({
      count: 1,
      app: { id: "/a", tasks: [{ id: "t", appId: "/a" }] },
    });
    const tree = { id: "/", enforceRole: false, apps: [], groups: [{ id: "/g", enforceRole: false, apps: [{ id: "/g/a", tasks: [task] }], groups: [] }] };
    expect(groupWire(tree)).toEqual({ id: "/", apps: [], groups: [{ id: "/g", apps: [{ id: "/g/a", tasks: [{ id: "t", appId: "/a" }] }], groups: [] }] });
  });

  it("puts a deployment's app inside its groups in the plan's root group", () => {
    const app = valid({ id: "/shop/api/web", cmd: "sleep 1" });
    const root = planGroup(app, "v1");
    expect(root.apps).toEqual([]);
    expect(root.groups[0]?.id).toBe("/shop");
    expect(root.groups[0]?.groups[0]).toMatchObject({ id: "/shop/api", apps: [app], groups: [], version: "v1" });
    expect(planGroup(null, "v1")).toEqual({ id: "/", apps: [], groups: [], dependencies: [], pods: [], version: "v1" });
  });
});

describe("HTTP Basic auth", () => {
  it("takes the password as the token, whatever the user name", () => {
    expect(basicPassword(`Basic ${btoa("me:dcx_secret")}`)).toBe("dcx_secret");
    expect(basicPassword(`basic ${btoa(":dcx:with:colons")}`)).toBe("dcx:with:colons");
    expect(basicPassword(`Basic ${btoa("only-user")}`)).toBeUndefined();
    expect(basicPassword(`Basic ${btoa("user:")}`)).toBeUndefined();
    expect(basicPassword("Basic !!!")).toBeUndefined();
    expect(basicPassword("Bearer x")).toBeUndefined();
  });
});
