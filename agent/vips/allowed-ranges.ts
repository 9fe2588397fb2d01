import { networkInterfaces } from "node:os";
import { type Cidr, inCidr, parseCidr } from "../../protocol/vips.ts";
import { VIP_LINK } from "./addresses.ts";

/**
 * Which VIP ranges this agent takes from its master (`--vip-ranges`). The master checks a range
 * against the blocks no agent may bind (protocol/vips.ts), but a cluster member chooses the
 * range, and a root agent routes every address of it to a task: a routed block such as the
 * machine's own LAN would let a member redirect this host's traffic to their tasks. So the agent
 * also insists that the range lies inside a block its operator allows (by default loopback, which
 * never leaves the machine, and DC/OS's 11.0.0.0/8) and holds none of the machine's own addresses.
 */

/** The blocks an agent takes VIP ranges from unless its operator says otherwise. */
export const DEFAULT_VIP_RANGES: readonly string[] = ["127.0.0.0/8", "11.0.0.0/8"];

export interface VipRangeGuard {
  /** The operator's blocks; a range must lie inside one of them. */
  allowed: readonly string[];
  /** This machine's own IPv4 addresses, outside loopback and the VIP link (tests pass their own). */
  hostAddresses?: () => string[];
}

/** This machine's non-loopback IPv4 addresses, leaving out the ones the balancer added itself. */
export function hostAddresses(): string[] {
  const found: string[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (name === VIP_LINK) continue;
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) found.push(a.address);
  }
  return found;
}

/** Why this agent refuses a (valid) VIP range, or undefined when it takes it. */
export function vipRangeRefusal(range: Cidr, guard: VipRangeGuard): string | undefined {
  const blocks = guard.allowed.map(parseCidr).filter((b): b is Cidr => b !== undefined);
  if (!blocks.some((b) => b.first <= range.first && range.last <= b.last))
    return `outside the blocks this agent allows (--vip-ranges ${guard.allowed.join(",")})`;
  const own = (guard.hostAddresses ?? hostAddresses)().find((ip) => inCidr(range, ip));
  if (own !== undefined) return `it holds ${own}, an address of this machine: its traffic would go to tasks`;
  return undefined;
}
