import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cliHarness } from "./test-support/harness.ts";

const NODES = [
  {
    agentId: "a1",
    hostname: "web-1",
    state: "active",
    healthy: false,
    reportedAt: Date.UTC(2026, 11, 4),
    checks: [
      { name: "connection", status: "healthy", message: "connected" },
      { name: "disk", status: "unhealthy", message: "100 MB free of 50000 MB in /var/lib/dcx" },
      { name: "docker", status: "disabled", message: "no docker socket configured (--docker-socket)" },
    ],
  },
  { agentId: "a2", hostname: "web-2", state: "active", healthy: false, reportedAt: null, checks: [] },
];
const ZIP = new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]);
const bundleQueries: URLSearchParams[] = [];

const { dir, dcx } = cliHarness("diagnostics", (req) => {
  const url = new URL(req.url);
  const path = url.pathname.replace(/^\/c\/k1/, "");
  if (req.method === "GET" && path === "/diagnostics") return Response.json({ healthy: false, nodes: NODES });
  if (req.method === "GET" && path === "/agents/a1/diagnostics") return Response.json(NODES[0]);
  if (req.method === "GET" && path === "/agents/nope/diagnostics") return Response.json({ message: "Agent 'nope' does not exist." }, { status: 404 });
  if (req.method === "POST" && path === "/diagnostics/bundle") {
    bundleQueries.push(url.searchParams);
    return new Response(ZIP, { headers: { "Content-Type": "application/zip", "Content-Disposition": 'attachment; filename="dcx-bundle-k1-x.zip"' } });
  }
  return Response.json({ message: `unexpected ${req.method} ${path}` }, { status: 500 });
});

describe("dcx node diagnostics", () => {
  test("lists each node's health and failing checks; a node that never reported is UNKNOWN", async () => {
    const { code, stdout } = await dcx(["node", "diagnostics"]);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+HOSTNAME\s+STATE\s+HEALTH\s+FAILING$/);
    expect(lines[1]).toMatch(/^a1\s+web-1\s+active\s+UNHEALTHY\s+disk$/);
    expect(lines[2]).toMatch(/^a2\s+web-2\s+active\s+UNKNOWN\s+-$/);
  });

  test("one node's checks, one by one, and JSON for scripts", async () => {
    const { code, stdout } = await dcx(["node", "diagnostics", "a1"]);
    expect(code).toBe(0);
    expect(stdout).toContain("web-1 (a1): UNHEALTHY, active, reported 2026-12-04T00:00:00.000Z");
    expect(stdout).toMatch(/disk\s+UNHEALTHY\s+100 MB free of 50000 MB/);
    const json = await dcx(["node", "diagnostics", "a1", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual(NODES[0]);
    const missing = await dcx(["node", "diagnostics", "nope"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("Agent 'nope' does not exist.");
  });
});

describe("dcx diagnostics bundle", () => {
  test("saves the zip under the server's name, or --output, passing the timeout in ms", async () => {
    const named = await dcx(["diagnostics", "bundle", "--timeout", "2.5"]);
    expect(named.code).toBe(0);
    expect(readFileSync(join(dir, "dcx-bundle-k1-x.zip"), "utf8").length).toBeGreaterThan(0);
    expect(bundleQueries.at(-1)?.get("timeoutMs")).toBe("2500");
    const out = join(dir, "mine.zip");
    const chosen = await dcx(["diagnostics", "bundle", "-o", out]);
    expect(chosen.stdout).toContain(`Wrote ${out} (${ZIP.length} bytes)`);
    expect(new Uint8Array(readFileSync(out))).toEqual(ZIP);
  });

  test("a bad timeout is refused before any request", async () => {
    const before = bundleQueries.length;
    const { code, stderr } = await dcx(["diagnostics", "bundle", "--timeout", "forever"]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("--timeout: 'forever' is not a number of seconds from 0.1 to 30");
    expect(bundleQueries.length).toBe(before);
    expect(existsSync(join(dir, "dcx-bundle.zip"))).toBe(false);
  });
});
