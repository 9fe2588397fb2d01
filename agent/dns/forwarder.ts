import type { Logger } from "../log.ts";
import { AnswerCache } from "./answer-cache.ts";
import type { AnswerCacheOptions } from "./answer-cache.ts";
import { BurstLog } from "./burst-log.ts";
import { DohClient } from "./doh-client.ts";
import type { DohClientOptions } from "./doh-client.ts";
import type { HostPort } from "./listen-address.ts";
import { formatHostPort, reachableAddress } from "./listen-address.ts";
import { PlainClient } from "./plain-client.ts";
import { DnsQueryCounts } from "./query-counts.ts";
import type { PlainClientOptions } from "./plain-client.ts";
import { Nameservers } from "./resolv-conf.ts";
import { Resolver } from "./resolver.ts";
import { startTcpServer } from "./tcp-server.ts";
import type { TcpServer } from "./tcp-server.ts";
import { startUdpServer } from "./udp-server.ts";
import type { UdpServer } from "./udp-server.ts";

/**
 * The agent's DNS forwarder, DC/OS's Distributed DNS Proxy for DCX: plain DNS on UDP and TCP
 * for the tasks on this machine; cluster-zone names answered by the control plane's DoH
 * endpoint (cached), every other name by the machine's resolvers.
 */

/** How many times a port-0 bind looks for a port free for both UDP and TCP. */
const BIND_ATTEMPTS = 5;

export interface DnsForwarderOptions {
  /** Where to listen, UDP and TCP; port 0 picks a port free for both. */
  listen: HostPort;
  /** Canonical zone names answered through DoH (see zones.ts). */
  zones: readonly string[];
  /** The DoH endpoint. */
  dohUrl: string;
  /** The agent credential, sent only when the DoH endpoint is the control plane's. */
  bearer?: () => string | undefined;
  resolvConf: string;
  log: Logger;
  /** Test and tuning hooks; production uses the defaults. */
  tuning?: {
    now?: () => number;
    doh?: Omit<DohClientOptions, "url" | "bearer">;
    plain?: Omit<PlainClientOptions, "servers">;
    cache?: Omit<AnswerCacheOptions, "now">;
    tcpIdleMs?: number;
    logWindowMs?: number;
  };
}

/** A running forwarder; see the module comment. */
export class DnsForwarder {
  private constructor(
    /** The bound address (the real port when asked for port 0). */
    readonly bound: HostPort,
    private readonly udp: UdpServer,
    private readonly tcp: TcpServer,
    /** Queries answered so far, by transport and result (the agent's metrics). */
    readonly queries: DnsQueryCounts,
  ) {}

  /**
   * Binds UDP and TCP on the listen address and starts answering; logs `dns_listening`. Throws
   * when the address cannot be bound (in use, not on this machine, not permitted).
   */
  static async start(options: DnsForwarderOptions): Promise<DnsForwarder> {
    const tuning = options.tuning ?? {};
    const now = tuning.now ?? Date.now;
    let listen = options.listen;
    const nameservers = new Nameservers(options.resolvConf, () => listen, now);
    const burstLog = new BurstLog(options.log, tuning.logWindowMs, now);
    const resolver = new Resolver({
      zones: options.zones,
      doh: new DohClient({ ...tuning.doh, url: options.dohUrl, bearer: options.bearer }),
      plain: new PlainClient({ ...tuning.plain, servers: () => nameservers.list() }),
      cache: new AnswerCache({ ...tuning.cache, now }),
      onUpstreamError: (error) => burstLog.report(error),
    });
    const queries = new DnsQueryCounts();
    const [udp, tcp] = await bindBoth(options.listen, {
      udp: (address) => startUdpServer(address, (message) => queries.track("udp", resolver.answer(message, "udp"))),
      tcp: (address) => startTcpServer(address, (message) => queries.track("tcp", resolver.answer(message, "tcp")), tuning.tcpIdleMs),
    });
    listen = { host: options.listen.host, port: udp.port };
    const forwarder = new DnsForwarder(listen, udp, tcp, queries);
    const self = nameservers.selfEntries().map(formatHostPort);
    options.log.info("dns_listening", {
      address: formatHostPort(listen),
      zones: [...options.zones],
      doh: redactedUrl(options.dohUrl),
      resolvConf: options.resolvConf,
      nameservers: nameservers.list().map(formatHostPort),
      ...(self.length > 0 ? { skippedSelf: self } : {}),
    });
    return forwarder;
  }

  /** What tasks get in `DCX_DNS`: the bound address, or loopback for a wildcard bind. */
  get address(): string {
    return formatHostPort(reachableAddress(this.bound));
  }

  /** Stops listening; queries under way are abandoned. Idempotent. */
  stop(): void {
    this.udp.close();
    this.tcp.close();
  }
}

/** Binds UDP then TCP on the same port; for port 0, retries when TCP finds UDP's port taken. */
async function bindBoth(
  address: HostPort,
  start: { udp: (address: HostPort) => Promise<UdpServer>; tcp: (address: HostPort) => TcpServer },
): Promise<[UdpServer, TcpServer]> {
  for (let attempt = 1; ; attempt++) {
    const udp = await start.udp(address);
    try {
      return [udp, start.tcp({ host: address.host, port: udp.port })];
    } catch (error) {
      udp.close();
      if (address.port !== 0 || attempt >= BIND_ATTEMPTS) throw error;
    }
  }
}

/**
 * The DoH URL fit for a log: a public DoH URL carries its key in the path
 * (`/dns/<key>/dns-query`), so only the origin and the path's shape are kept.
 */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname.replace(/\/dns\/[^/]+\//, "/dns/[redacted]/")}`;
}

/** The control plane's DoH endpoint for agents of `cluster`: `{master}/c/{cluster}/dns-query`. */
export function clusterDohUrl(master: string, cluster: string): string {
  const url = new URL(master);
  url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/c/${encodeURIComponent(cluster)}/dns-query`;
  return url.href;
}

/**
 * The credential goes only to the control plane that issued it: a DoH URL on another origin (a
 * public URL with a key, a test server) is asked without it.
 */
export function sendsCredential(dohUrl: string, master: string): boolean {
  return new URL(dohUrl).origin === new URL(clusterDohUrl(master, "x")).origin;
}
