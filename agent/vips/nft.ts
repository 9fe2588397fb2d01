import { createHash } from "node:crypto";
import type { Vip } from "../../protocol/vips.ts";
import { ipv4ToNumber } from "../../protocol/vips.ts";
import { errorMessage } from "../log.ts";

/**
 * The kernel data path for VIPs (DC/OS's dcos-l4lb programmed IPVS; this kernel has nftables
 * NAT and no IPVS): one nftables table owned by the agent, whose `nat` chains rewrite a VIP's
 * address and port to one of its backends, round robin (`numgen inc`). Connections then go
 * straight from the client to the task: no second TCP connection, no process in the middle.
 *
 * - `output` (type nat): locally generated traffic, which is what loopback VIPs and host-network
 *   tasks produce; `prerouting` (type nat): traffic from bridge containers and other hosts.
 * - A VIP with no live backend gets a `reject with tcp reset` in `filter` chains on `output` and
 *   `forward`, so a client is refused at once rather than its SYN being routed elsewhere.
 * - Draining a backend is leaving it out of the map: conntrack keeps the connections already
 *   translated to it, which is exactly drain semantics.
 *
 * Every update replaces the whole table in one `nft -f` transaction: the kernel sees the old
 * rules or the new ones, never a half. Each address and port is checked before it is written
 * into a script, whatever checked it before: the agent is root, and a script is code.
 */

/** Runs one nft script from stdin; resolves with its exit code and stderr. */
export type NftCommand = (script: string) => Promise<{ code: number; stderr: string }>;

/** Runs `nft -f -` (the nftables package) from PATH. */
export const runNft: NftCommand = async (script) => {
  const child = Bun.spawn(["nft", "-f", "-"], { stdin: new TextEncoder().encode(script), stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  return { code, stderr: stderr.trim() };
};

/** `dcx_vip_` and a digest of the agent's work dir: stable across restarts (so a crashed agent's table is found), apart from sibling agents. */
export function nftTableName(workDir: string): string {
  return `dcx_vip_${createHash("sha256").update(workDir).digest("hex").slice(0, 12)}`;
}

const TABLE_NAME = /^dcx_vip_[a-z0-9_]{1,40}$/;

/** A dotted-quad IPv4 address, written back in canonical form; throws naming `what` otherwise. */
function checkedIp(ip: string, what: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) || ipv4ToNumber(ip) === undefined) throw new Error(`${what}: '${ip}' is not an IPv4 address`);
  return ip.split(".").map(Number).join(".");
}

function checkedPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what}: ${String(port)} is not a TCP port`);
  return port;
}

function checkedTable(table: string): string {
  if (!TABLE_NAME.test(table)) throw new Error(`nft table name '${table}' is not dcx_vip_ followed by [a-z0-9_]`);
  return table;
}

/** The rule sending one VIP's connections to its live backends; undefined when it has none. */
function natRule(vip: Vip): string | undefined {
  const match = `ip daddr ${checkedIp(vip.ip, `VIP ${vip.ip}:${vip.port}`)} tcp dport ${checkedPort(vip.port, `VIP ${vip.ip}`)}`;
  const live = vip.backends.filter((b) => !b.draining);
  if (live.length === 0) return undefined;
  const targets = live.map((b, i) => `${i} : ${checkedIp(b.host, `backend of ${vip.ip}:${vip.port}`)} . ${checkedPort(b.port, `backend ${b.host}`)}`);
  return `${match} dnat ip to numgen inc mod ${live.length} map { ${targets.join(", ")} }`;
}

function chain(name: string, type: "nat" | "filter", hook: string, priority: number, rules: string[]): string {
  return [`  chain ${name} {`, `    type ${type} hook ${hook} priority ${priority}; policy accept;`, ...rules.map((r) => `    ${r}`), "  }"].join("\n");
}

/**
 * The script that makes `table` hold exactly these VIPs: it creates the table if absent, deletes
 * it, and defines it anew, all in one transaction. Pure; throws (writing nothing) on any address
 * or port that is not one.
 */
export function renderNftTable(table: string, vips: readonly Vip[]): string {
  const name = checkedTable(table);
  const nat: string[] = [];
  const refuse: string[] = [];
  for (const vip of vips) {
    const rule = natRule(vip);
    if (rule !== undefined) nat.push(rule);
    else refuse.push(`ip daddr ${checkedIp(vip.ip, "VIP")} tcp dport ${checkedPort(vip.port, `VIP ${vip.ip}`)} reject with tcp reset`);
  }
  return [
    `table ip ${name}`,
    `delete table ip ${name}`,
    `table ip ${name} {`,
    // -100: NF_IP_PRI_NAT_DST, where DNAT belongs (nft 1.0.6 knows `dstnat` on prerouting only).
    chain("output", "nat", "output", -100, nat),
    chain("prerouting", "nat", "prerouting", -100, nat),
    chain("refuse_output", "filter", "output", 0, refuse),
    chain("refuse_forward", "filter", "forward", 0, refuse),
    "}",
    "",
  ].join("\n");
}

/** The script that removes `table` if it is there (and only it). */
export function renderNftDelete(table: string): string {
  const name = checkedTable(table);
  return `table ip ${name}\ndelete table ip ${name}\n`;
}

/** The agent's nftables table: programs it, replaces it, removes it. */
export class NftVips {
  constructor(
    readonly table: string,
    private readonly nft: NftCommand = runNft,
  ) {}

  /** Makes the kernel hold exactly `vips`; throws with nft's own message when it refuses. */
  async apply(vips: readonly Vip[]): Promise<void> {
    await this.run(renderNftTable(this.table, vips));
  }

  /** Removes the table (on stop, or when the kernel path is given up). */
  async remove(): Promise<void> {
    await this.run(renderNftDelete(this.table));
  }

  private async run(script: string): Promise<void> {
    let result: { code: number; stderr: string };
    try {
      result = await this.nft(script);
    } catch (error) {
      throw new Error(`cannot run nft: ${errorMessage(error)}`);
    }
    if (result.code !== 0) throw new Error(`nft -f failed (exit ${result.code}): ${result.stderr}`);
  }
}
