import { describe, expect, it } from "vitest";
import { canonicalPath } from "../../control/cluster/frameworks/marathon/app-fields.ts";
import { dependencyProblems, waitsForDependencies } from "../../control/cluster/frameworks/marathon/dependencies.ts";

/** Marathon's relative ids and `dependencies`, as pure functions. */

describe("canonicalPath", () => {
  it("reads relative ids inside the base, resolving . and .., and keeps absolute ones", () => {
    expect(canonicalPath("web", "/prod")).toBe("/prod/web");
    expect(canonicalPath("web", "/")).toBe("/web");
    expect(canonicalPath("./db/pg", "/prod")).toBe("/prod/db/pg");
    expect(canonicalPath("../db", "/prod/web")).toBe("/prod/db");
    expect(canonicalPath("/other/x", "/prod")).toBe("/other/x");
    expect(canonicalPath("web/", "/prod")).toBe("/prod/web");
    expect(() => canonicalPath("../..", "/prod")).toThrow(/above the root/);
  });
});

describe("dependencies", () => {
  const apps = [{ id: "/s/db" }, { id: "/s/cache", dependencies: ["/s/db"] }, { id: "/s/front/web", dependencies: ["/s/db", "/s/cache"] }];

  it("an app waits while an app it depends on (by id or by group) is deploying, never for itself", () => {
    expect(waitsForDependencies(apps[2] ?? { id: "" }, ["/s/cache"])).toBe(true);
    expect(waitsForDependencies({ id: "/a", dependencies: ["/s"] }, ["/s/db"])).toBe(true);
    expect(waitsForDependencies({ id: "/s/x", dependencies: ["/s"] }, ["/s/x"])).toBe(false);
    expect(waitsForDependencies(apps[2] ?? { id: "" }, ["/s/dbx", "/s/front/web"])).toBe(false);
    expect(waitsForDependencies({ id: "/a" }, ["/s/db"])).toBe(false);
  });

  it("reports dependencies that name nothing or lead back to the app, only for the apps checked", () => {
    expect(dependencyProblems(apps, new Set(apps.map((a) => a.id)))).toEqual([]);
    const withCycle = [...apps.slice(0, 2).map((a) => (a.id === "/s/db" ? { ...a, dependencies: ["/s/front"] } : a)), apps[2] ?? { id: "" }];
    expect(dependencyProblems(withCycle, new Set(["/s/db"]))).toEqual([{ appId: "/s/db", index: 0, error: expect.stringMatching(/cycle/) }]);
    const unknown = [...apps, { id: "/x", dependencies: ["/s/db", "/nope"] }];
    expect(dependencyProblems(unknown, new Set(["/x"]))).toEqual([{ appId: "/x", index: 1, error: expect.stringMatching(/names no app or group/) }]);
    expect(dependencyProblems(unknown, new Set(["/s/db"]))).toEqual([]);
  });
});
