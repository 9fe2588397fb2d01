import { networkInterfaces } from "node:os";
import type { Vip } from "../../protocol/vips.ts";
import { errorMessage, type Logger } from "../log.ts";
import { isLoopback } from "./addresses.ts";
import type { NftVips } from "./nft.ts";

/**
 * Chooses between the kernel data path (nftables NAT rules, see nft.ts) and the userspace
 * balancer, once, at the agent's first VIP table, and holds the kernel's share of each table.
 *
 * - `userspace`: never touches nftables.
 * - `auto` (the default) and `kernel`: the kernel path when the agent is root and `nft` loads
 *   the agent's table; otherwise the userspace balancer, saying why (`kernel` says it as an error:
 *   the operator asked for it). A later load failure gives the kernel path up for good.
 *
 * Not every VIP can go to the kernel: a packet from a loopback VIP keeps its 127.x source, which
 * no other host may receive, so a VIP inside 127.0.0.0/8 is translated in the kernel only when
 * all its backends are on this machine; the userspace balancer serves the rest.
 */

export const VIP_MODES = ["auto", "kernel", "userspace"] as const;
/** The operator's choice (`--vip-mode`). */
export type VipMode = (typeof VIP_MODES)[number];
/** What the agent ended up using. */
export type VipPath = "kernel" | "userspace";

export interface KernelPathOptions {
  log: Logger;
  mode: VipMode;
  /** The agent's table; absent means there is none to program (userspace only). */
  nft?: NftVips;
  /** Whether the agent may program the kernel; defaults to running as root. */
  privileged?: boolean;
  /** This machine's own IPv4 addresses (tests pass their own). */
  localAddresses?: () => Set<string>;
}

/** Every IPv4 address on this machine's interfaces. */
export function machineAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4") out.add(a.address);
  return out;
}

export class KernelPath {
  private decided: Promise<VipPath> | undefined;
  private path: VipPath | undefined;
  private reason = "no VIP table yet";
  private programmed = false;

  constructor(private readonly options: KernelPathOptions) {}

  /** The path in use (`undefined` until the first table) and why. */
  status(): { mode: VipMode; path: VipPath | undefined; reason: string } {
    return { mode: this.options.mode, path: this.path, reason: this.reason };
  }

  /**
   * Programs the kernel's share of `vips` and returns it; the caller serves the others in
   * userspace. Returns nothing when the kernel path is not (or no longer) in use.
   */
  async apply(vips: readonly Vip[]): Promise<Vip[]> {
    if ((await this.decide()) !== "kernel" || this.options.nft === undefined) return [];
    const local = (this.options.localAddresses ?? machineAddresses)();
    const kernel = vips.filter((v) => !isLoopback(v.ip) || v.backends.every((b) => isLoopback(b.host) || local.has(b.host)));
    try {
      // No VIP for the kernel: no table at all, so an agent of a cluster without VIPs leaves nothing behind.
      if (kernel.length === 0) await this.stop();
      else await this.options.nft.apply(kernel);
      this.programmed = kernel.length > 0;
      return kernel;
    } catch (error) {
      await this.giveUp(`loading the VIP rules failed: ${errorMessage(error)}`);
      return [];
    }
  }

  /** Removes the agent's table (agent stop, or no VIP left for the kernel). */
  async stop(): Promise<void> {
    if (!this.programmed || this.options.nft === undefined) return;
    this.programmed = false;
    await this.options.nft
      .remove()
      .catch((error: unknown) => this.options.log.warn("vip_kernel_cleanup_failed", { table: this.options.nft?.table, error: errorMessage(error) }));
  }

  private decide(): Promise<VipPath> {
    this.decided ??= this.probe().then((path) => (this.path = path));
    return this.decided;
  }

  /** Which path to use; the first table load (an empty table) also clears what a crashed agent left. */
  private async probe(): Promise<VipPath> {
    const { mode, nft, log } = this.options;
    if (mode === "userspace") return this.userspace("--vip-mode userspace");
    if (!(this.options.privileged ?? process.getuid?.() === 0)) return this.userspace("the agent is not root: nftables rules need CAP_NET_ADMIN");
    if (nft === undefined) return this.userspace("no nftables table configured");
    try {
      await nft.apply([]);
    } catch (error) {
      return this.userspace(`nftables is not usable: ${errorMessage(error)}`);
    }
    this.programmed = true;
    this.reason = `nftables table ip ${nft.table}`;
    log.info("vip_mode", { mode, path: "kernel", table: nft.table, why: "root, and nft loaded the agent's table" });
    return "kernel";
  }

  private userspace(why: string): VipPath {
    this.reason = why;
    const level = this.options.mode === "kernel" ? "error" : "info";
    this.options.log[level]("vip_mode", { mode: this.options.mode, path: "userspace", why });
    return "userspace";
  }

  private async giveUp(why: string): Promise<void> {
    this.options.log.error("vip_kernel_failed", { why, effect: "VIPs are served by the userspace balancer from now on" });
    this.path = "userspace";
    this.reason = why;
    this.decided = Promise.resolve("userspace");
    await this.stop();
  }
}
