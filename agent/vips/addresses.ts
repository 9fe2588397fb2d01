import { inCidr, LOOPBACK, parseCidr } from "../../protocol/vips.ts";
import { errorMessage, type Logger } from "../log.ts";

/**
 * Puts VIP addresses on this machine so the balancer can listen on them. Linux routes all of
 * 127.0.0.0/8 to `lo`, so a loopback VIP needs nothing. Any other address is added to a dummy
 * link, `dcx-vip`, as DC/OS's dcos-net adds its 11.x addresses to `minuteman`: that takes root
 * (CAP_NET_ADMIN). Without it, the agent says so once and serves only loopback VIPs.
 */

/** The dummy link non-loopback VIP addresses go on. */
export const VIP_LINK = "dcx-vip";

/** Runs one `ip` command; resolves with its exit code and stderr. */
export type IpCommand = (args: string[]) => Promise<{ code: number; stderr: string }>;

/** Runs `ip` (iproute2) from PATH. */
export const runIp: IpCommand = async (args) => {
  const child = Bun.spawn(["ip", ...args], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  return { code, stderr: stderr.trim() };
};

const LOOPBACK_BLOCK = parseCidr(LOOPBACK);

/** Whether an address is on `lo` already (127.0.0.0/8). */
export const isLoopback = (ip: string): boolean => LOOPBACK_BLOCK !== undefined && inCidr(LOOPBACK_BLOCK, ip);

export interface VipAddressOptions {
  log: Logger;
  /** Whether the agent may change interfaces; defaults to running as root. */
  privileged?: boolean;
  ip?: IpCommand;
}

/** The non-loopback addresses this agent added, so it can take them away again. */
export class VipAddresses {
  private readonly added = new Set<string>();
  private link: Promise<boolean> | undefined;
  private warned = false;
  private readonly privileged: boolean;
  private readonly ip: IpCommand;

  constructor(private readonly options: VipAddressOptions) {
    this.privileged = options.privileged ?? process.getuid?.() === 0;
    this.ip = options.ip ?? runIp;
  }

  /** Makes `address` bindable; false (logged once) when it cannot be. */
  async ensure(address: string): Promise<boolean> {
    if (isLoopback(address) || this.added.has(address)) return true;
    if (!this.privileged) return this.unavailable(address, "the agent is not root: only VIP ranges inside 127.0.0.0/8 work without privileges");
    if (!(await this.ensureLink())) return false;
    const r = await this.ip(["addr", "add", `${address}/32`, "dev", VIP_LINK]);
    // "File exists": an earlier agent process (or a sibling agent) added it; it is there all the same.
    if (r.code !== 0 && !/exists/i.test(r.stderr)) return this.unavailable(address, `ip addr add failed: ${r.stderr}`);
    this.added.add(address);
    return true;
  }

  /** Takes away an address this agent added (the VIP is gone). */
  async release(address: string): Promise<void> {
    if (!this.added.delete(address)) return;
    const r = await this.ip(["addr", "del", `${address}/32`, "dev", VIP_LINK]);
    if (r.code !== 0) this.options.log.warn("vip_address_release_failed", { address, error: r.stderr });
  }

  /** Takes away every address this agent added (on shutdown). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.added].map((a) => this.release(a)));
  }

  private ensureLink(): Promise<boolean> {
    this.link ??= (async () => {
      const add = await this.ip(["link", "add", VIP_LINK, "type", "dummy"]);
      if (add.code !== 0 && !/exists/i.test(add.stderr)) return this.unavailable("", `ip link add ${VIP_LINK} type dummy failed: ${add.stderr}`);
      const up = await this.ip(["link", "set", VIP_LINK, "up"]);
      return up.code === 0 || this.unavailable("", `ip link set ${VIP_LINK} up failed: ${up.stderr}`);
    })().catch((error: unknown) => this.unavailable("", `cannot run ip: ${errorMessage(error)}`));
    return this.link;
  }

  private unavailable(address: string, why: string): false {
    if (!this.warned) this.options.log.error("vip_addresses_unavailable", { address, why, effect: "VIPs outside 127.0.0.0/8 are not served by this agent" });
    this.warned = true;
    return false;
  }
}
