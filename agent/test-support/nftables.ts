import { spawnSync } from "node:child_process";
import { renderNftDelete, renderNftTable } from "../vips/nft.ts";
import { type Requirement, requirement } from "./requirement.ts";

/** Why the VIPs' kernel data path cannot be tested here, or undefined when it can. */
function kernelMissing(): string | undefined {
  if (process.getuid?.() !== 0) return "the test is not root: nftables rules need CAP_NET_ADMIN";
  const version = spawnSync("nft", ["--version"]);
  if (version.error !== undefined || version.status !== 0) return "the nft command is missing (apt-get install nftables)";
  const probe = spawnSync("nft", ["-f", "-"], { input: renderNftTable("dcx_vip_probe", []) + renderNftDelete("dcx_vip_probe") });
  if (probe.status !== 0) return `nft cannot load a nat table on this kernel: ${probe.stderr.toString().trim()}`;
  return undefined;
}

/** Root, the nft command, and a kernel with nftables NAT: what the VIPs' kernel path needs. */
export const nftables: Requirement = requirement("root and nftables (nft, nf_tables NAT)", kernelMissing());
