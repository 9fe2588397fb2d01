import { describe, expect, test } from "bun:test";
import { cliHarness } from "./test-support/harness.ts";

/** `dcx dns settings` and `dcx dns vips` against a stand-in control plane. */

const patches: unknown[] = [];
const SETTINGS = { zone: "mesos", ttl: 5, vipRange: "127.11.0.0/16" };
const VIPS = [
  {
    name: "shopweb.marathon.l4lb.thisdcos.directory",
    ip: "127.11.4.2",
    port: 80,
    backends: [
      { host: "10.0.0.7", port: 31001, draining: false },
      { host: "10.0.0.8", port: 31002, draining: true },
    ],
  },
];

const { dcx } = cliHarness("dns", async (req) => {
  const path = new URL(req.url).pathname.replace(/^\/c\/k1/, "");
  if (req.method === "GET" && path === "/dns") return Response.json(SETTINGS);
  if (req.method === "PATCH" && path === "/dns") {
    const body = (await req.json()) as Record<string, unknown>;
    patches.push(body);
    return Response.json({ ...SETTINGS, ...body });
  }
  if (req.method === "GET" && path === "/vips") return Response.json({ range: SETTINGS.vipRange, vips: VIPS });
  return Response.json({ message: `unexpected ${req.method} ${path}` }, { status: 500 });
});

describe("dcx dns settings", () => {
  test("shows the zone, TTL and VIP range, and changes them", async () => {
    const shown = await dcx(["dns", "settings"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout.trim().split("\n")[1]).toMatch(/^mesos\s+5\s+127\.11\.0\.0\/16$/);
    const changed = await dcx(["dns", "settings", "--vip-range", "11.0.0.0/8", "--ttl", "30", "--json"]);
    expect(changed.code).toBe(0);
    expect(patches).toEqual([{ ttl: 30, vipRange: "11.0.0.0/8" }]);
    expect(JSON.parse(changed.stdout)).toEqual({ zone: "mesos", ttl: 30, vipRange: "11.0.0.0/8" });
  });

  test("refuses a VIP range the cluster would refuse, naming the flag, without calling the API", async () => {
    const r = await dcx(["dns", "settings", "--vip-range", "127.0.0.0/8"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--vip-range: must not overlap 127\.0\.0\.0\/24/);
    expect(patches).toHaveLength(1);
  });
});

describe("dcx dns vips", () => {
  test("lists each VIP's address and backends, draining ones marked", async () => {
    const { code, stdout } = await dcx(["dns", "vips"]);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ADDRESS\s+BACKENDS$/);
    expect(lines[1]).toMatch(/^shopweb\.marathon\.l4lb\.thisdcos\.directory\s+127\.11\.4\.2:80\s+10\.0\.0\.7:31001, 10\.0\.0\.8:31002 \(draining\)$/);
  });
});
