import { describe, expect, it } from "vitest";
import { normalizeGroupId } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { EMPTY_GROUP_VERSION, flattenGroups, groupTree, inGroup, parentGroup } from "../../control/cluster/frameworks/marathon/group-tree.ts";

/** Marathon groups implied by app ids: which ids lie in which group, and the nested tree. */

const app = (id: string, version = "2026-11-01T00:00:00.000Z") => ({ id, version });

describe("inGroup and parentGroup", () => {
  it("match whole segments only", () => {
    expect(inGroup("/prod/web", "/prod")).toBe(true);
    expect(inGroup("/prod/web/api", "/prod")).toBe(true);
    expect(inGroup("/production", "/prod")).toBe(false);
    expect(inGroup("/prod", "/prod")).toBe(false);
    expect(inGroup("/prod-2/web", "/prod")).toBe(false);
    expect(inGroup("/web", "/")).toBe(true);
  });

  it("name the enclosing group, the root for top-level ids", () => {
    expect(parentGroup("/prod/web/api")).toBe("/prod/web");
    expect(parentGroup("/web")).toBe("/");
  });
});

describe("groupTree", () => {
  const apps = [app("/top"), app("/prod/web/ui"), app("/prod/db"), app("/prod/web/api"), app("/prod-b/x"), app("/production")];

  it("nests every prefix of an app id as a group, apps and groups in id order", () => {
    const root = groupTree("/", apps);
    expect(root?.apps.map((a) => a.id)).toEqual(["/production", "/top"]);
    expect(root?.groups.map((g) => g.id)).toEqual(["/prod", "/prod-b"]);
    const prod = root?.groups[0];
    expect(prod?.apps.map((a) => a.id)).toEqual(["/prod/db"]);
    expect(prod?.groups.map((g) => g.id)).toEqual(["/prod/web"]);
    expect(prod?.groups[0]?.apps.map((a) => a.id)).toEqual(["/prod/web/api", "/prod/web/ui"]);
    expect(root && flattenGroups(root).map((g) => g.id)).toEqual(["/", "/prod", "/prod/web", "/prod-b"]);
  });

  it("builds a subtree for a group, and nothing for a group no app lies in", () => {
    const web = groupTree("/prod/web", apps);
    expect(web).toMatchObject({ id: "/prod/web", groups: [] });
    expect(web?.apps.map((a) => a.id)).toEqual(["/prod/web/api", "/prod/web/ui"]);
    expect(groupTree("/pro", apps)).toBeUndefined();
    expect(groupTree("/top", apps)).toBeUndefined();
  });

  it("dates each group by the newest app inside it; an empty root by the epoch", () => {
    const tree = groupTree("/", [app("/a/b/c", "2026-11-03T00:00:00.000Z"), app("/a/d", "2026-11-02T00:00:00.000Z"), app("/e", "2026-11-01T00:00:00.000Z")]);
    expect(tree?.version).toBe("2026-11-03T00:00:00.000Z");
    expect(tree?.groups[0]?.version).toBe("2026-11-03T00:00:00.000Z");
    expect(groupTree("/a", [app("/a/d", "2026-11-02T00:00:00.000Z"), app("/a/b/c", "2026-11-01T00:00:00.000Z")])?.version).toBe("2026-11-02T00:00:00.000Z");
    expect(groupTree("/", [])).toEqual({ id: "/", apps: [], groups: [], version: EMPTY_GROUP_VERSION });
  });
});

describe("normalizeGroupId", () => {
  it("makes ids absolute, the root from '' and '/', and allows segments reserved for app ids", () => {
    expect(normalizeGroupId("")).toBe("/");
    expect(normalizeGroupId("/")).toBe("/");
    expect(normalizeGroupId("prod/web/")).toBe("/prod/web");
    expect(normalizeGroupId("/team/tasks")).toBe("/team/tasks");
  });

  it("names what is wrong", () => {
    expect(() => normalizeGroupId("/Prod")).toThrow(/segment 'Prod' is invalid/);
    expect(() => normalizeGroupId("/a//b")).toThrow(/empty segment/);
    expect(() => normalizeGroupId("/a/../b")).toThrow(/'\.\.'/);
  });
});
