import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type GroupView, groupId, parseFactor, stillStopping, summarize } from "./commands/group.ts";
import { cliHarness } from "./test-support/harness.ts";
const GROUP_FILE = JSON.stringify({ id: "/prod", apps: [{ id: "web", cmd: "sleep 1000" }], groups: [{ id: "db", apps: [{ id: "pg", cmd: "sleep 1000" }] }] });

const V1 = "2026-11-02T10:00:00.000Z";
const V2 = "2026-11-02T11:00:00.000Z";
const app = (id: string, instances: number, tasksRunning: number, version = V1) => ({ id, instances, tasksRunning, version });
const ROOT: GroupView = {
  id: "/",
  version: V2,
  apps: [app("/top", 1, 1)],
  groups: [
    {
      id: "/prod",
      version: V2,
      apps: [app("/prod/db", 1, 1)],
      groups: [{ id: "/prod/web", version: V2, apps: [app("/prod/web/api", 3, 2, V2), app("/prod/web/ui", 2, 2)], groups: [] }],
    },
  ],
};

/** A pretend control plane: the tree above, and one group removal whose two stop deployments end after a few polls. */
const seen: { method: string; url: URL }[] = [];
let polls = 0;
const bodies: unknown[] = [];
const { dir, dcx } = cliHarness("group", async (req) => {
  const url = new URL(req.url);
  seen.push({ method: req.method, url });
  const path = url.pathname.replace(/^\/c\/k1/, "");
  if (req.method === "GET" && path === "/v2/groups")
    return Response.json(url.searchParams.get("embed") ? ROOT : { id: "/", version: V1, apps: [], groups: [] });
  if (req.method === "DELETE" && path === "/v2/groups/prod") {
    polls = 0;
    return Response.json({ deploymentId: "d1", version: V2, deploymentIds: ["d1", "d2"] });
  }
  if (req.method === "DELETE" && path === "/v2/groups/busy") {
    if (url.searchParams.get("force") === "true") return Response.json({ deploymentId: "d9", version: V2, deploymentIds: ["d9"] });
    return Response.json(
      { message: "App is locked by one or more deployments. Override with the option '?force=true'.", deployments: [{ id: "d0" }] },
      { status: 409 },
    );
  }
  if (req.method === "POST" && path === "/v2/groups") {
    bodies.push(await req.json());
    polls = 0;
    return Response.json({ deploymentId: "d1", version: V2, deploymentIds: ["d1", "d2"] }, { status: 201 });
  }
  if (req.method === "PUT" && path === "/v2/groups/prod") {
    bodies.push(await req.json());
    return Response.json({ deploymentId: "u1", version: V2, deploymentIds: ["u1"] });
  }
  if (req.method === "DELETE") return Response.json({ message: `Group '${path.replace("/v2/groups", "")}' does not exist` }, { status: 404 });
  if (path === "/v2/deployments") {
    polls++;
    const all = [
      { id: "d1", affectedApps: ["/prod/db"] },
      { id: "d2", affectedApps: ["/prod/web/api"] },
      { id: "other", affectedApps: ["/top"] },
    ];
    return Response.json(polls === 1 ? all : polls === 2 ? all.slice(1) : all.slice(2));
  }
  return Response.json({ message: "no route" }, { status: 404 });
});
const groupFile = join(dir, "prod.json");
writeFileSync(groupFile, GROUP_FILE);

describe("summarize", () => {
  test("lists every group but the root, with the apps inside at any depth and their tasks", () => {
    expect(summarize(ROOT)).toEqual([
      { id: "/prod", version: V2, apps: ["/prod/db", "/prod/web/api", "/prod/web/ui"], groups: ["/prod/web"], instances: 6, tasksRunning: 5 },
      { id: "/prod/web", version: V2, apps: ["/prod/web/api", "/prod/web/ui"], groups: [], instances: 5, tasksRunning: 4 },
    ]);
    expect(summarize({ id: "/", version: V1, apps: [app("/web", 1, 0)], groups: [] })).toEqual([]);
  });
});

describe("groupId and stillStopping", () => {
  test("group ids are absolute; the root is refused", () => {
    expect(groupId("prod/web/")).toBe("/prod/web");
    expect(groupId("/prod")).toBe("/prod");
    expect(() => groupId("/")).toThrow(/root group/);
  });

  test("a removal is done when none of its deployments is listed", () => {
    const listed = [
      { id: "d2", affectedApps: ["/prod/b"] },
      { id: "x", affectedApps: ["/other"] },
    ];
    expect(stillStopping(listed, ["d1", "d2"])).toEqual({ ids: ["d2"], apps: ["/prod/b"] });
    expect(stillStopping(listed, ["d1"])).toEqual({ ids: [], apps: [] });
  });
});

describe("dcx group", () => {
  test("list prints a table of the groups with their apps and running tasks, asking for counts", async () => {
    const out = await dcx(["group", "list"]);
    expect(out).toEqual({
      code: 0,
      stdout: [
        "ID         APPS  RUNNING  VERSION",
        "/prod      3     5/6      2026-11-02T11:00:00Z",
        "/prod/web  2     4/5      2026-11-02T11:00:00Z",
        "",
      ].join("\n"),
      stderr: "",
    });
    expect(seen.at(-1)?.url.searchParams.get("embed")).toBe("group.groups,group.apps,group.apps.counts");
    const json = JSON.parse((await dcx(["group", "list", "--json"])).stdout) as { id: string; apps: string[] }[];
    expect(json.map((g) => [g.id, g.apps.length])).toEqual([
      ["/prod", 3],
      ["/prod/web", 2],
    ]);
  });

  test("remove deletes the group and waits until every stop deployment of it is gone", async () => {
    const out = await dcx(["group", "remove", "prod"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe("/prod: removed (2 apps)\n");
    expect(out.stderr).toContain("/prod: removing 2 apps");
    expect(out.stderr).toContain("/prod: 2 of 2 apps still stopping (/prod/db, /prod/web/api)");
    expect(out.stderr).toContain("/prod: 1 of 2 apps still stopping (/prod/web/api)");
    expect(seen.filter((r) => r.method === "DELETE").at(-1)?.url.pathname).toBe("/c/k1/v2/groups/prod");
    expect(polls).toBe(3);
  });

  test("remove --no-wait --json prints the DeploymentResult at once", async () => {
    const out = await dcx(["group", "remove", "/prod", "--no-wait", "--json"]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ id: "/prod", deploymentId: "d1", version: V2, deploymentIds: ["d1", "d2"] });
    expect(polls).toBe(0);
  });

  test("remove reports a 409 with the hint to force, and --force overrides it; an unknown group fails with the server's message", async () => {
    const locked = await dcx(["group", "remove", "busy", "--no-wait"]);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain("pass --force to override the deployment in progress");
    const forced = await dcx(["group", "remove", "busy", "--force", "--no-wait"]);
    expect(forced).toMatchObject({ code: 0, stdout: "/busy: removal started (deployments d9)\n" });
    expect(seen.at(-1)?.url.searchParams.get("force")).toBe("true");
    expect(await dcx(["group", "remove", "nope"])).toMatchObject({ code: 1, stderr: "dcx: Group '/nope' does not exist (HTTP 404)\n" });
    expect(await dcx(["group", "remove", "/"])).toMatchObject({ code: 2, stderr: expect.stringContaining("is the root group") });
  });
});

describe("dcx group add, update and scale", () => {
  test("parseFactor takes positive numbers only", () => {
    expect(parseFactor("1.5")).toBe(1.5);
    for (const bad of ["0", "-2", "x", "", "Infinity"]) expect(() => parseFactor(bad)).toThrow(/not a positive number/);
  });

  test("add posts the file and waits until every deployment of the group is gone", async () => {
    const out = await dcx(["group", "add", groupFile]);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe("/prod: deployed (2 apps changed)\n");
    expect(out.stderr).toContain("/prod: 2 of 2 apps still deploying (/prod/db, /prod/web/api)");
    expect(out.stderr).toContain("/prod: 1 of 2 apps still deploying (/prod/web/api)");
    expect(bodies.at(-1)).toMatchObject({ id: "/prod", groups: [{ id: "db" }] });
    expect(polls).toBe(3);
  });

  test("add --no-wait --json prints the result at once; a file without an id is refused before any request", async () => {
    const out = await dcx(["group", "add", groupFile, "--no-wait", "--json"]);
    expect(JSON.parse(out.stdout)).toEqual({ id: "/prod", deploymentId: "d1", version: V2, deploymentIds: ["d1", "d2"] });
    expect(polls).toBe(0);
    const noId = join(dir, "noid.json");
    writeFileSync(noId, JSON.stringify({ apps: [] }));
    const requests = seen.length;
    expect(await dcx(["group", "add", noId])).toMatchObject({ code: 1, stderr: expect.stringContaining('has no "id"') });
    expect(seen.length).toBe(requests);
  });

  test("update PUTs the file to the group with --force; scale PUTs {scaleBy}", async () => {
    const out = await dcx(["group", "update", "prod", groupFile, "--force", "--no-wait"]);
    expect(out).toMatchObject({ code: 0, stdout: "/prod: deployment started (u1)\n" });
    expect(seen.at(-1)?.url.searchParams.get("force")).toBe("true");
    expect(bodies.at(-1)).toMatchObject({ id: "/prod" });
    const scaled = await dcx(["group", "scale", "/prod", "2.5", "--no-wait", "--json"]);
    expect(JSON.parse(scaled.stdout)).toMatchObject({ id: "/prod", deploymentIds: ["u1"] });
    expect(bodies.at(-1)).toEqual({ scaleBy: 2.5 });
    expect(await dcx(["group", "scale", "/prod", "zero"])).toMatchObject({ code: 2 });
  });
});
