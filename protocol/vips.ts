import { z } from "zod";

/**
 * Named layer-4 VIPs (DC/OS Minuteman): the address range a cluster hands VIP addresses out
 * of, and the `vips` frame in which the master tells every agent which addresses to listen on
 * and which task ports to spread their connections over. Both sides check the same rules here:
 * the master before it stores a range, the agent before it binds an address as root.
 */

/** How long after `registered` an agent waits for a `vips` frame before dropping the table it kept. */
export const VIP_TABLE_GRACE_MS = 5_000;

/** Where a named VIP's DNS name lives: `<name>.marathon.l4lb.thisdcos.directory`. */
export const L4LB_DOMAIN = "l4lb.thisdcos.directory";

/**
 * The range of every cluster unless its owner sets another. Inside 127.0.0.0/8, which Linux
 * routes to `lo` as a whole, so an agent binds these addresses with no setup and no privilege,
 * and VIP traffic never leaves the machine it started on. DC/OS's 11.0.0.0/8 is one PATCH away.
 */
export const DEFAULT_VIP_RANGE = "127.11.0.0/16";

/** The loopback block: addresses in it need no interface set-up. */
export const LOOPBACK = "127.0.0.0/8";

/** An IPv4 CIDR block, as numbers: `first` and `last` inclusive (network and broadcast included). */
export interface Cidr {
  base: number;
  prefix: number;
  first: number;
  last: number;
}

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** An IPv4 literal as an unsigned 32-bit number, or undefined when it is not one. */
export function ipv4ToNumber(ip: string): number | undefined {
  if (!IPV4.test(ip)) return undefined;
  return ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** The dotted form of an unsigned 32-bit number. */
export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

/** Parses `a.b.c.d/len`; the address must be the block's first (no host bits set). */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, len, ...rest] = text.split("/");
  if (ip === undefined || len === undefined || rest.length > 0 || !/^\d{1,2}$/.test(len)) return undefined;
  const base = ipv4ToNumber(ip);
  const prefix = Number(len);
  if (base === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined;
  return { base, prefix, first: base, last: base + size - 1 };
}

/** Whether `ip` lies inside `range`. */
export function inCidr(range: Cidr, ip: string): boolean {
  const n = ipv4ToNumber(ip);
  return n !== undefined && n >= range.first && n <= range.last;
}

/** Blocks a VIP range may not touch: what an agent binding them as root would break or hijack. */
const FORBIDDEN_BLOCKS: readonly { cidr: string; why: string }[] = [
  { cidr: "0.0.0.0/8", why: "'this network' (0.0.0.0/8)" },
  { cidr: "127.0.0.0/24", why: "127.0.0.0/24, where 127.0.0.1 (localhost) lives" },
  { cidr: "169.254.0.0/16", why: "link-local 169.254.0.0/16 (cloud metadata services live there)" },
  { cidr: "224.0.0.0/3", why: "multicast and reserved addresses (224.0.0.0/3)" },
];

/** The smallest and largest range sizes accepted: /8 (DC/OS's 11.0.0.0/8) to /28 (14 usable addresses). */
export const MIN_VIP_PREFIX = 8;
export const MAX_VIP_PREFIX = 28;

/**
 * Why a VIP range is refused, or undefined when it is fine: an IPv4 CIDR block between /8 and
 * /28 that overlaps none of FORBIDDEN_BLOCKS. The agent checks the range it is sent too, so a
 * master cannot make a root agent bind localhost or the metadata address.
 */
export function vipRangeProblem(text: string): string | undefined {
  const range = parseCidr(text);
  if (range === undefined) return `'${text}' is not an IPv4 CIDR block such as 11.0.0.0/8 or 127.11.0.0/16 (no host bits may be set)`;
  if (range.prefix < MIN_VIP_PREFIX || range.prefix > MAX_VIP_PREFIX) return `must be between /${MIN_VIP_PREFIX} and /${MAX_VIP_PREFIX}`;
  for (const block of FORBIDDEN_BLOCKS) {
    const b = parseCidr(block.cidr);
    if (b !== undefined && range.first <= b.last && b.first <= range.last) return `must not overlap ${block.why}`;
  }
  return undefined;
}

/**
 * The addresses of a range that may be handed out: all but the block's first and last (its
 * network and broadcast addresses, which some stacks refuse to bind or treat specially).
 */
export function usableAddresses(range: Cidr): { first: number; count: number } {
  return { first: range.first + 1, count: range.last - range.first - 1 };
}

/** One task port a VIP spreads connections over. */
export const VipBackend = z.strictObject({
  /** The task's agent address, as the agent registered it. */
  host: z.ipv4(),
  /** The task's host port. */
  port: z.number().int().min(1).max(65535),
  /** A task failing its health checks or being killed: existing connections go on, no new ones come. */
  draining: z.boolean(),
});
export type VipBackend = z.infer<typeof VipBackend>;

/** One address and port an agent listens on, and where connections to it go. */
export const Vip = z.strictObject({
  /** The VIP's DNS name (for named VIPs) or its `ip:port` label (for IP VIPs), for logs and metrics. */
  name: z.string().min(1).max(300),
  ip: z.ipv4(),
  port: z.number().int().min(1).max(65535),
  backends: z.array(VipBackend).max(10_000),
});
export type Vip = z.infer<typeof Vip>;

/**
 * The cluster's whole VIP table, sent to every agent whenever it changes, and right after
 * `registered` when the cluster has VIPs. Each frame replaces the one before: an agent stops
 * listening on what a frame leaves out. An agent keeps balancing with its last table while it is
 * away from the master; once registered again, no table within VIP_TABLE_GRACE_MS means the
 * cluster has no VIPs any more.
 */
export const Vips = z.strictObject({
  type: z.literal("vips"),
  /** The cluster's range; the agent binds only addresses inside it. */
  range: z.string().max(32),
  vips: z.array(Vip).max(10_000),
});
export type Vips = z.infer<typeof Vips>;
