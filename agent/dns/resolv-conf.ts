import { readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import os from "node:os";
import type { HostPort } from "./listen-address.ts";
import { isWildcard, parseHostPort } from "./listen-address.ts";

/**
 * The machine's own resolvers, from resolv.conf `nameserver` lines. The file is re-read when it
 * changes (DHCP, systemd-resolved and container runtimes rewrite it), checked at most once
 * every RECHECK_MS. Beyond the C library's syntax, a nameserver may name a port
 * (`nameserver 127.0.0.1:5300`, `nameserver [::1]:5300`), for a file written for this forwarder
 * (`--dns-resolv-conf`) that points at a local resolver on another port.
 */

export const DEFAULT_RESOLV_CONF = "/etc/resolv.conf";
const DNS_PORT = 53;
const RECHECK_MS = 2_000;

/** The nameservers of a resolv.conf text, in order; lines that name no address are skipped. */
export function parseResolvConf(text: string): HostPort[] {
  const servers: HostPort[] = [];
  for (const line of text.split("\n")) {
    const [keyword, address] = line
      .replace(/[#;].*$/, "")
      .trim()
      .split(/\s+/);
    if (keyword !== "nameserver" || address === undefined) continue;
    const server = parseNameserver(address);
    if (server !== undefined) servers.push(server);
  }
  return servers;
}

function parseNameserver(address: string): HostPort | undefined {
  // A link-local IPv6 address may carry its interface (`fe80::1%eth0`); sockets take it as is.
  if (isIP(address.replace(/%.*$/, "")) !== 0) return { host: address, port: DNS_PORT };
  try {
    return parseHostPort(address);
  } catch {
    return undefined;
  }
}

/**
 * True when the nameserver `server` is this forwarder listening on `listen`: asking it would send
 * every query around in a loop.
 */
export function isSelf(server: HostPort, listen: HostPort, localAddresses: readonly string[] = machineAddresses()): boolean {
  if (server.port !== listen.port) return false;
  if (server.host === listen.host) return true;
  if (!isWildcard(listen.host)) return false;
  return localAddresses.includes(server.host) || server.host.startsWith("127.") || server.host === "::1" || isWildcard(server.host);
}

function machineAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((addresses) => (addresses ?? []).map((address) => address.address));
}

/** The current resolvers from a resolv.conf path, without this forwarder itself. */
export class Nameservers {
  private servers: HostPort[] = [];
  private skipped: HostPort[] = [];
  private mtimeMs = -1;
  private checkedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly path: string,
    private readonly listen: () => HostPort,
    private readonly now: () => number = Date.now,
  ) {}

  /** The resolvers to ask, in file order; empty when there are none besides the forwarder. */
  list(): HostPort[] {
    this.refresh();
    return this.servers;
  }

  /** Nameservers left out because they are this forwarder. */
  selfEntries(): HostPort[] {
    this.refresh();
    return this.skipped;
  }

  private refresh(): void {
    const now = this.now();
    if (now - this.checkedAtMs < RECHECK_MS) return;
    this.checkedAtMs = now;
    let text: string;
    try {
      const mtimeMs = statSync(this.path).mtimeMs;
      if (mtimeMs === this.mtimeMs) return;
      this.mtimeMs = mtimeMs;
      text = readFileSync(this.path, "utf8");
    } catch {
      // No file, no resolvers: names outside the cluster zones get SERVFAIL until it appears.
      this.mtimeMs = -1;
      text = "";
    }
    const listen = this.listen();
    const all = parseResolvConf(text);
    this.skipped = all.filter((server) => isSelf(server, listen));
    this.servers = all.filter((server) => !isSelf(server, listen));
  }
}
