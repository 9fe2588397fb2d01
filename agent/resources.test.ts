import { describe, expect, test } from "bun:test";
import os from "node:os";
import { parseResourceString } from "../protocol/index.ts";
import { afterReserve, detectAdvertiseIp, mergeResources, resolveResources, resourcesFromFacts } from "./resources.ts";

const GIB = 1024 ** 3;

describe("resource detection", () => {
  test("this machine offers sane resources", () => {
    const resources = resolveResources(os.tmpdir(), {});
    expect(resources.cpus).toBeGreaterThanOrEqual(1);
    expect(resources.mem).toBeGreaterThan(0);
    expect(resources.mem).toBeLessThan(os.totalmem() / 1024 ** 2);
    expect(resources.disk).toBeGreaterThan(0);
    expect(Number.isInteger(resources.mem) && Number.isInteger(resources.disk)).toBe(true);
    expect(resources.gpus).toBe(0);
    expect(resources.ports).toEqual([[31000, 32000]]);
  });

  test("reserves min(cap, half) of memory and disk", () => {
    expect(resourcesFromFacts({ cpuCount: 8, totalMemBytes: 16 * GIB, diskBytes: 100 * GIB })).toEqual({
      cpus: 8,
      mem: 15 * 1024,
      disk: 95 * 1024,
      gpus: 0,
      ports: [[31000, 32000]],
    });
    // Small machines keep half: 1 GiB of RAM offers 512 MB, a 4 GiB disk offers 2 GiB.
    expect(resourcesFromFacts({ cpuCount: 1, totalMemBytes: GIB, diskBytes: 4 * GIB })).toMatchObject({ mem: 512, disk: 2048 });
    expect(afterReserve(0, 1024)).toBe(0);
  });

  test("--resources replaces only the entries it names", () => {
    const detected = resourcesFromFacts({ cpuCount: 4, totalMemBytes: 8 * GIB, diskBytes: 50 * GIB });
    const merged = mergeResources(detected, parseResourceString("cpus:2;ports:[40000-40100]"));
    expect(merged).toEqual({ ...detected, cpus: 2, ports: [[40000, 40100]] });
    expect(mergeResources(detected, {})).toEqual(detected);
  });

  test("a merge that breaks the protocol's bounds throws", () => {
    const detected = resourcesFromFacts({ cpuCount: 4, totalMemBytes: 8 * GIB, diskBytes: 50 * GIB });
    expect(() => mergeResources(detected, { cpus: 1e9 })).toThrow(/cpus/);
  });
});

describe("detectAdvertiseIp", () => {
  const nic = (address: string, family: "IPv4" | "IPv6", internal: boolean): os.NetworkInterfaceInfo =>
    ({ address, family, internal, netmask: "", mac: "00:00:00:00:00:00", cidr: null }) as os.NetworkInterfaceInfo;

  test("picks the first non-internal IPv4 address", () => {
    const ip = detectAdvertiseIp({
      lo: [nic("127.0.0.1", "IPv4", true)],
      eth0: [nic("fe80::1", "IPv6", false)],
      eth1: [nic("10.1.2.3", "IPv4", false), nic("10.9.9.9", "IPv4", false)],
    });
    expect(ip).toBe("10.1.2.3");
  });

  test("falls back to loopback when there is none", () => {
    expect(detectAdvertiseIp({ lo: [nic("127.0.0.1", "IPv4", true)] })).toBe("127.0.0.1");
    expect(detectAdvertiseIp({})).toBe("127.0.0.1");
  });
});
