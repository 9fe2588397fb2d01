import { inCidr, parseCidr, VIP_TABLE_GRACE_MS, vipRangeProblem, type Vip, type Vips } from "../../protocol/vips.ts";
import { errorMessage, type Logger } from "../log.ts";
import { VipAddresses, type VipAddressOptions } from "./addresses.ts";
import { DEFAULT_VIP_RANGES, type VipRangeGuard, vipRangeRefusal } from "./allowed-ranges.ts";
import { KernelPath, type KernelPathOptions, type VipMode, type VipPath } from "./kernel-path.ts";
import { type VipCounters, VipListener } from "./vip-listener.ts";

/**
 * The agent's layer-4 balancer (DC/OS's Minuteman, one per agent): listens on every VIP of the
 * cluster that has backends and spreads its connections over them. Each `vips` frame from the
 * master is the whole table: listeners are opened for new VIPs, given the new backend lists,
 * and closed for VIPs the frame leaves out (their open connections carry on).
 *
 * The agent is root, so a frame is checked before anything is bound: its range must pass the
 * same rules the master applies and lie inside a block the operator allows (allowed-ranges.ts),
 * and every address must lie inside it. Backends are whatever
 * the master names: it builds them from its own task list (task ports on agents).
 *
 * When it can, the agent has the kernel balance instead (kernel-path.ts: nftables NAT rules, as
 * DC/OS's dcos-l4lb programmed IPVS): the VIPs the kernel takes get no listener here.
 */

export interface BalancerOptions {
  log: Logger;
  addresses?: Omit<VipAddressOptions, "log">;
  /** How long after a registration a table must come before the kept one is dropped (tests shorten it). */
  tableGraceMs?: number;
  /** The kernel data path's settings; absent means userspace only. */
  kernel?: Omit<KernelPathOptions, "log">;
  /** Which ranges the agent takes (`--vip-ranges`); absent means DEFAULT_VIP_RANGES. */
  ranges?: VipRangeGuard;
}

/** Which data path serves the VIPs, for metrics and diagnostics. */
export interface VipPathStatus {
  /** The operator's `--vip-mode`. */
  mode: VipMode;
  /** What is in use; undefined until the first table. */
  path: VipPath | undefined;
  reason: string;
}

/** One VIP's state, for metrics and diagnostics. */
export interface VipStatus extends VipCounters {
  name: string;
  ip: string;
  port: number;
  backends: number;
  /** Served by a listener of this agent (userspace) or by nftables rules (kernel, which counts no connections here). */
  path: VipPath;
  listening: boolean;
}

const keyOf = (v: { ip: string; port: number }) => `${v.ip}:${v.port}`;

export class VipBalancer {
  private readonly listeners = new Map<string, { listener: VipListener; listening: Promise<boolean> }>();
  private readonly addresses: VipAddresses;
  private readonly kernel: KernelPath;
  /** The VIPs the kernel balances, as last programmed. */
  private inKernel: Vip[] = [];
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Set from a registration until the master's table (or the grace's end). */
  private awaitingTable: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: BalancerOptions) {
    this.addresses = new VipAddresses({ log: options.log, ...options.addresses });
    this.kernel = new KernelPath({ log: options.log, mode: "userspace", ...options.kernel });
  }

  /** Takes a new table; resolves once it is applied (listeners bound or their failure logged). */
  update(frame: Vips): Promise<void> {
    clearTimeout(this.awaitingTable);
    this.awaitingTable = undefined;
    const usable = this.usable(frame);
    if (usable === undefined) return this.queue;
    return this.enqueue(usable);
  }

  /**
   * A session just registered. VIPs keep being served through the reconnect; a master with VIPs
   * sends its table at once, so none within the grace means the cluster has none left.
   */
  registered(): void {
    clearTimeout(this.awaitingTable);
    this.awaitingTable = setTimeout(() => {
      this.awaitingTable = undefined;
      if (this.listeners.size > 0)
        this.options.log.info("vip_table_dropped", { why: "no VIP table from the master after registering: the cluster has no VIPs" });
      void this.enqueue([]);
    }, this.options.tableGraceMs ?? VIP_TABLE_GRACE_MS);
  }

  /** Every VIP this agent serves, and how it fares. */
  status(): VipStatus[] {
    const kernel = this.inKernel.map((v) => ({
      name: v.name,
      ip: v.ip,
      port: v.port,
      backends: v.backends.length,
      path: "kernel" as const,
      listening: false,
      accepted: 0,
      refused: 0,
      active: 0,
    }));
    const userspace = [...this.listeners.values()].map(({ listener }) => ({
      name: listener.name,
      ip: listener.ip,
      port: listener.port,
      backends: listener.backendCount,
      path: "userspace" as const,
      listening: listener.listening,
      ...listener.counters,
    }));
    return [...kernel, ...userspace];
  }

  /** Which data path serves the VIPs, and why. */
  pathStatus(): VipPathStatus {
    return this.kernel.status();
  }

  /** Closes every listener and connection, and takes away the addresses it added. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.awaitingTable);
    await this.queue;
    for (const { listener } of this.listeners.values()) listener.close(true);
    this.listeners.clear();
    this.inKernel = [];
    await this.kernel.stop();
    await this.addresses.releaseAll();
  }

  /** Applies tables one after another: binding is asynchronous, and a later table must win. */
  private enqueue(vips: Vip[]): Promise<void> {
    // A failure is logged and the queue goes on: the next table must still be applied.
    this.queue = this.queue.then(() => this.apply(vips)).catch((error: unknown) => this.options.log.error("vip_update_failed", { error: errorMessage(error) }));
    return this.queue;
  }

  private async apply(usable: Vip[]): Promise<void> {
    if (this.stopped) return;
    const before = this.inKernel;
    this.inKernel = await this.kernel.apply(usable);
    // A routed VIP's address goes on this machine in either path: a local route lets this host's
    // clients connect (the kernel's rule rewrites the destination after the route lookup).
    await Promise.all(this.inKernel.map((v) => this.addresses.ensure(v.ip)));
    const inKernel = new Set(this.inKernel);
    await this.listen(usable.filter((v) => !inKernel.has(v)));
    for (const { ip } of before) if (!this.inUse(ip)) await this.addresses.release(ip);
  }

  /** Whether a VIP address is still served, by a listener or by the kernel. */
  private inUse(ip: string): boolean {
    return this.inKernel.some((v) => v.ip === ip) || [...this.listeners.values()].some(({ listener }) => listener.ip === ip);
  }

  /** Opens, updates and closes listeners so they serve exactly `usable`. */
  private async listen(usable: Vip[]): Promise<void> {
    const wanted = new Map(usable.map((v) => [keyOf(v), v]));
    for (const [key, { listener }] of this.listeners) {
      if (wanted.has(key)) continue;
      listener.close();
      this.listeners.delete(key);
      this.options.log.info("vip_removed", { vip: listener.name, address: key });
      if (!this.inUse(listener.ip)) await this.addresses.release(listener.ip);
    }
    await Promise.all(usable.map((vip) => this.serve(vip)));
  }

  /** The frame's VIPs this agent may bind; undefined (logged) when the frame's range is refused whole. */
  private usable(frame: Vips): Vip[] | undefined {
    const range = parseCidr(frame.range);
    const guard = this.options.ranges ?? { allowed: DEFAULT_VIP_RANGES };
    const problem = vipRangeProblem(frame.range) ?? (range === undefined ? undefined : vipRangeRefusal(range, guard));
    if (problem !== undefined || range === undefined) {
      this.options.log.error("vip_range_refused", { range: frame.range, why: problem ?? "not a CIDR block" });
      return undefined;
    }
    return frame.vips.filter((vip) => {
      const inside = inCidr(range, vip.ip);
      if (!inside)
        this.options.log.error("vip_address_refused", { vip: vip.name, address: vip.ip, range: frame.range, why: "outside the cluster's VIP range" });
      return inside;
    });
  }

  /** Opens the VIP's listener if it has none (or its last bind failed), and gives it its backends. */
  private async serve(vip: Vip): Promise<void> {
    const key = keyOf(vip);
    let entry = this.listeners.get(key);
    if (entry !== undefined && !(await entry.listening)) {
      this.listeners.delete(key);
      entry = undefined;
    }
    if (entry === undefined) {
      const listener = new VipListener(vip.name, vip.ip, vip.port, this.options.log);
      entry = { listener, listening: this.bind(listener) };
      this.listeners.set(key, entry);
    }
    entry.listener.setBackends(vip.backends);
    await entry.listening;
  }

  private async bind(listener: VipListener): Promise<boolean> {
    const address = keyOf(listener);
    if (!(await this.addresses.ensure(listener.ip))) return false;
    try {
      listener.listen();
      this.options.log.info("vip_listening", { vip: listener.name, address });
      return true;
    } catch (error) {
      this.options.log.error("vip_listen_failed", { vip: listener.name, address, error: errorMessage(error) });
      return false;
    }
  }
}
