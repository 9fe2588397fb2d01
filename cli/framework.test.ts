import { describe, expect, test } from "bun:test";
import { cliHarness } from "./test-support/harness.ts";

/** `dcx framework` and `dcx service-account` against a pretend control plane that records what it is asked. */
const asked: { method: string; path: string; body: unknown }[] = [];
const spark = {
  id: "m-0002",
  name: "spark",
  active: true,
  connected: true,
  principal: "spark",
  role: "*",
  roles: ["*"],
  user: "",
  failover_timeout: 60,
  registered_time: 1_800_000_000,
  used_resources: { cpus: 1.5, mem: 256 },
  offered_resources: { cpus: 2, mem: 1024 },
  tasks: [{ id: "driver-1", state: "TASK_RUNNING", slave_id: "m-S0" }],
  offers: [{}],
};
const marathon = { ...spark, id: "m-0000", name: "marathon", principal: undefined, tasks: [], offers: [], used_resources: { cpus: 0, mem: 0 } };

const h = cliHarness("framework", async (req) => {
  const url = new URL(req.url);
  const body = req.method === "GET" ? undefined : await req.json().catch(() => undefined);
  asked.push({ method: req.method, path: url.pathname, body });
  if (url.pathname === "/c/k1/master/frameworks") return Response.json({ frameworks: [marathon, spark], completed_frameworks: [] });
  if (url.pathname === "/c/k1/api/v1") return new Response(null, { status: 200 });
  if (url.pathname === "/clusters/k1/service-accounts" && req.method === "POST")
    return Response.json(
      { id: "sa1", principal: "spark", status: "active", description: "", createdAt: "2026-12-05T00:00:00Z", revokedAt: null, secret: "dcxs_secret" },
      { status: 201 },
    );
  if (url.pathname === "/clusters/k1/service-accounts")
    return Response.json({
      serviceAccounts: [{ id: "sa1", principal: "spark", status: "active", description: "", createdAt: "2026-12-05T00:00:00Z", revokedAt: null }],
    });
  if (url.pathname === "/clusters/k1/service-accounts/sa1") return Response.json({ serviceAccount: { id: "sa1", principal: "spark", status: "revoked" } });
  return Response.json({ message: "not found" }, { status: 404 });
});

describe("dcx framework", () => {
  test("list shows each framework's principal, state, tasks and offers; show one by name; teardown posts the operator call", async () => {
    const listed = await h.dcx(["framework", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/m-0002\s+spark\s+spark\s+connected\s+1\s+1\.5\s+256\s+1/);
    const shown = await h.dcx(["framework", "show", "spark"]);
    expect(shown.stdout).toContain("driver-1");
    expect(shown.stdout).toContain("2 cpus, 1024 MB in 1 offers");
    expect((await h.dcx(["framework", "show", "nope"])).code).not.toBe(0);
    const torn = await h.dcx(["framework", "teardown", "m-0002"]);
    expect(torn.code).toBe(0);
    expect(asked.at(-1)).toEqual({ method: "POST", path: "/c/k1/api/v1", body: { type: "TEARDOWN", teardown: { framework_id: { value: "m-0002" } } } });
  });
});

describe("dcx service-account", () => {
  test("create prints the secret once with how to send it; list and revoke", async () => {
    const created = await h.dcx(["service-account", "create", "spark", "--description", "driver"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("dcxs_secret");
    expect(created.stdout).toContain("/c/k1/api/v1/scheduler");
    expect(asked.at(-1)?.body).toEqual({ principal: "spark", description: "driver" });
    const listed = await h.dcx(["service-account", "list"]);
    expect(listed.stdout).toMatch(/sa1\s+spark\s+active/);
    expect(listed.stdout).not.toContain("dcxs_");
    const revoked = await h.dcx(["service-account", "revoke", "sa1"]);
    expect(revoked.stdout).toContain("Revoked service account sa1 (spark)");
  });
});
