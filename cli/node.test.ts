import { describe, expect, test } from "bun:test";
import { cliHarness } from "./test-support/harness.ts";

const RESOURCES = { cpus: 2, mem: 2048, disk: 0 };
const USED = { cpus: 0, mem: 0, disk: 0 };
/** Two agents as `/master/slaves` shows them: a private one, and a public one whose resources are reserved for slave_public. */
const SLAVES = [
  {
    id: "a1",
    hostname: "web-1",
    state: "active",
    active: true,
    resources: RESOURCES,
    used_resources: USED,
    attributes: { rack: "r1" },
    reserved_resources: {},
  },
  {
    id: "a2",
    hostname: "edge-1",
    state: "active",
    active: true,
    resources: RESOURCES,
    used_resources: USED,
    attributes: { public_ip: "true" },
    reserved_resources: { slave_public: RESOURCES },
  },
];

const { dcx } = cliHarness("node", (req) => {
  const path = new URL(req.url).pathname.replace(/^\/c\/k1/, "");
  if (req.method === "GET" && path === "/master/slaves") return Response.json({ slaves: SLAVES });
  return Response.json({ message: `unexpected ${req.method} ${path}` }, { status: 500 });
});

describe("dcx node list", () => {
  test("shows each agent's role: slave_public for a public agent, * for a private one", async () => {
    const { code, stdout } = await dcx(["node", "list"]);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+HOSTNAME\s+STATE\s+ROLE\s+CPUS\s+MEM\s+ATTRIBUTES$/);
    expect(lines[1]).toMatch(/^a1\s+web-1\s+active\s+\*\s+0\/2\s+0\/2048\s+rack:r1$/);
    expect(lines[2]).toMatch(/^a2\s+edge-1\s+active\s+slave_public\s+0\/2\s+0\/2048\s+public_ip:true$/);
  });
});
