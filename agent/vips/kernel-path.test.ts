import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import type { Vip, Vips } from "../../protocol/vips.ts";
import { collectLog } from "../test-support/log-collector.ts";
import type { IpCommand } from "./addresses.ts";
import { VipBalancer } from "./balancer.ts";
import type { VipMode } from "./kernel-path.ts";
import { NftVips, type NftCommand } from "./nft.ts";

/**
 * Which data path the balancer picks and how it falls back, with nft replaced by a recorder (the
 * real kernel is exercised in nft.test.ts and agent-vips.test.ts). VIPs the kernel takes get no
 * listener; the rest are served by the agent's own listeners on real loopback sockets.
 */

const RANGE = "127.11.0.0/16";
const vipAddress = () => ({
  ip: `127.11.${128 + Math.floor(Math.random() * 120)}.${1 + Math.floor(Math.random() * 250)}`,
  port: 20_000 + Math.floor(Math.random() * 20_000),
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A recording nft; `fail` makes the Nth script (1-based) onwards fail. */
function fakeNft(failFrom = Number.POSITIVE_INFINITY) {
  const scripts: string[] = [];
  const nft: NftCommand = async (script) => {
    scripts.push(script);
    return scripts.length >= failFrom ? { code: 1, stderr: "Error: Could not process rule: Operation not supported" } : { code: 0, stderr: "" };
  };
  return { scripts, nft };
}

function setUp(mode: VipMode, nft: NftCommand, options: { privileged?: boolean; local?: string[]; ip?: IpCommand } = {}) {
  const logs = collectLog();
  const balancer = new VipBalancer({
    log: logs.log,
    addresses: { privileged: true, ip: options.ip ?? (async () => ({ code: 0, stderr: "" })) },
    tableGraceMs: 50,
    kernel: {
      mode,
      nft: new NftVips("dcx_vip_t", nft),
      privileged: options.privileged ?? true,
      localAddresses: () => new Set(options.local ?? ["127.0.0.1", "10.0.0.9"]),
    },
  });
  cleanups.push(() => balancer.stop());
  return { balancer, logs };
}

const frame = (vips: Vip[], range = RANGE): Vips => ({ type: "vips", range, vips });
const webVip = (host = "127.0.0.1", port = 9): Vip => ({ name: "web", ...vipAddress(), backends: [{ host, port, draining: false }] });

/** Whether anything accepts a connection at the VIP's address. */
function accepts(vip: Vip): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: vip.ip, port: vip.port }, () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });
}

describe("the balancer's data path", () => {
  test("auto, root, nft loads: the first load clears the agent's table, VIPs go to the kernel with no listener, stop removes the table", async () => {
    const { scripts, nft } = fakeNft();
    const { balancer, logs } = setUp("auto", nft);
    const vip = webVip();
    await balancer.update(frame([vip]));
    expect(scripts).toHaveLength(2);
    expect(scripts[0]).toContain("delete table ip dcx_vip_t");
    expect(scripts[0]).not.toContain("dnat");
    expect(scripts[1]).toContain(`ip daddr ${vip.ip} tcp dport ${vip.port} dnat ip to numgen inc mod 1 map { 0 : 127.0.0.1 . 9 }`);
    expect(balancer.pathStatus()).toEqual({ mode: "auto", path: "kernel", reason: "nftables table ip dcx_vip_t" });
    expect(balancer.status()).toEqual([
      { name: "web", ip: vip.ip, port: vip.port, backends: 1, path: "kernel", listening: false, accepted: 0, refused: 0, active: 0 },
    ]);
    expect(await accepts(vip)).toBe(false);
    expect(logs.events("vip_mode")).toMatchObject([{ level: "info", path: "kernel", table: "dcx_vip_t" }]);
    await balancer.stop();
    expect(scripts[2]).toBe("table ip dcx_vip_t\ndelete table ip dcx_vip_t\n");
  });

  test("a table with no VIP for the kernel leaves no table behind (a cluster without VIPs, or all of them gone)", async () => {
    const { scripts, nft } = fakeNft();
    const { balancer } = setUp("auto", nft);
    await balancer.update(frame([]));
    expect(scripts).toEqual([expect.stringContaining("table ip dcx_vip_t {"), "table ip dcx_vip_t\ndelete table ip dcx_vip_t\n"]);
    await balancer.stop();
    expect(scripts).toHaveLength(2);
  });

  test("a loopback VIP with a backend on another machine stays in userspace: its 127.x source could not leave this host", async () => {
    const { scripts, nft } = fakeNft();
    const { balancer } = setUp("auto", nft);
    const local = webVip("10.0.0.9", 9);
    const remote = webVip("10.0.0.77", 9);
    await balancer.update(frame([local, remote]));
    expect(scripts[1]).toContain(local.ip);
    expect(scripts[1]).not.toContain(remote.ip);
    expect(balancer.status().map((s) => [s.ip, s.path])).toEqual([
      [local.ip, "kernel"],
      [remote.ip, "userspace"],
    ]);
    expect(await accepts(remote)).toBe(true);
  });

  test("a routed VIP in the kernel path still gets its address on the dcx-vip link (a local route for this host's clients), taken away when it goes", async () => {
    const { nft } = fakeNft();
    const calls: string[] = [];
    const ip: IpCommand = async (args) => {
      calls.push(args.join(" "));
      return { code: 0, stderr: "" };
    };
    const { balancer } = setUp("auto", nft, { ip });
    const routed: Vip = { name: "r", ip: "11.0.0.5", port: 80, backends: [{ host: "10.0.0.9", port: 31000, draining: false }] };
    await balancer.update(frame([routed], "11.0.0.0/8"));
    expect(balancer.status()).toMatchObject([{ ip: "11.0.0.5", path: "kernel" }]);
    expect(calls).toContain("addr add 11.0.0.5/32 dev dcx-vip");
    await balancer.update(frame([], "11.0.0.0/8"));
    expect(calls.at(-1)).toBe("addr del 11.0.0.5/32 dev dcx-vip");
  });

  for (const [mode, privileged, failFrom, level, why] of [
    ["userspace", true, Number.POSITIVE_INFINITY, "info", "--vip-mode userspace"],
    ["auto", false, Number.POSITIVE_INFINITY, "info", "the agent is not root: nftables rules need CAP_NET_ADMIN"],
    ["auto", true, 1, "info", "nftables is not usable: nft -f failed (exit 1): Error: Could not process rule: Operation not supported"],
    ["kernel", true, 1, "error", "nftables is not usable: nft -f failed (exit 1): Error: Could not process rule: Operation not supported"],
  ] as const) {
    test(`${mode}${privileged ? "" : ", not root"}${failFrom === 1 ? ", nft failing" : ""}: the userspace balancer serves, saying why`, async () => {
      const { scripts, nft } = fakeNft(failFrom);
      const { balancer, logs } = setUp(mode, nft, { privileged });
      const vip = webVip();
      await balancer.update(frame([vip]));
      expect(balancer.pathStatus()).toEqual({ mode, path: "userspace", reason: why });
      expect(logs.events("vip_mode")).toMatchObject([{ level, path: "userspace", why }]);
      expect(balancer.status()[0]).toMatchObject({ path: "userspace", listening: true });
      expect(scripts).toHaveLength(failFrom === 1 ? 1 : 0);
    });
  }

  test("a later load failure hands every VIP to the listeners for good and removes the table", async () => {
    const { scripts, nft } = fakeNft(3);
    const { balancer, logs } = setUp("auto", nft);
    const vip = webVip();
    await balancer.update(frame([vip]));
    expect(await accepts(vip)).toBe(false);
    await balancer.update(frame([vip, webVip()]));
    expect(logs.events("vip_kernel_failed")).toMatchObject([{ level: "error" }]);
    expect(scripts[3]).toBe("table ip dcx_vip_t\ndelete table ip dcx_vip_t\n");
    expect(balancer.pathStatus().path).toBe("userspace");
    expect(balancer.status().every((s) => s.path === "userspace" && s.listening)).toBe(true);
    expect(await accepts(vip)).toBe(true);
    await balancer.update(frame([vip]));
    expect(scripts).toHaveLength(4);
  });
});
