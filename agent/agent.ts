import packageJson from "../package.json" with { type: "json" };
import { CloseCode, PROTOCOL_VERSION, PUBLIC_ROLE, Register, aliveTasks, taskSetDigest } from "../protocol/index.ts";
import type { Registered, Resources } from "../protocol/index.ts";
import { Backoff } from "./backoff.ts";
import { ConfigError } from "./config.ts";
import type { AgentConfig } from "./config.ts";
import { Connection, agentConnectUrl } from "./connection.ts";
import { DnsForwarder, clusterDohUrl, sendsCredential } from "./dns/forwarder.ts";
import type { DnsForwarderOptions } from "./dns/forwarder.ts";
import { formatHostPort } from "./dns/listen-address.ts";
import { checkIdentityCluster, ensureWorkDir, identityPath, loadIdentity, saveIdentity } from "./identity.ts";
import type { Identity } from "./identity.ts";
import { AgentDiagnostics, RecentLog } from "./diagnostics.ts";
import { LogService, isLogCommand } from "./log-service.ts";
import { ProxyService, isProxyCommand } from "./proxy/proxy-service.ts";
import { type MetricsServer, startMetricsServer } from "./metrics.ts";
import { createLogger, errorMessage, teeLogger } from "./log.ts";
import type { Logger } from "./log.ts";
import { detectAdvertiseIp, detectHostname, resolveResources } from "./resources.ts";
import { DEFAULT_POLICY, allowancesOf } from "./policy.ts";
import { createTaskHost } from "./task-host.ts";
import { DEFAULT_VIP_RANGES } from "./vips/allowed-ranges.ts";
import { VipBalancer } from "./vips/balancer.ts";
import { NftVips, nftTableName } from "./vips/nft.ts";
import type { MasterCommand, TaskHost } from "./task-host.ts";

/** The agent's version, reported in `register`. */
export const AGENT_VERSION: string = packageJson.version;

/** Process exit codes (sysexits.h where one fits). */
export const ExitCode = {
  OK: 0,
  /** Bad or missing options. */
  USAGE: 2,
  /** The identity could not be written to the work dir. */
  IO_ERROR: 74,
  /** The master refused this agent for good: credential rejected or agent removed. */
  CONFIG: 78,
} as const;

/** Time beyond the longest kill grace that a killing shutdown allows for the processes to go. */
const SHUTDOWN_KILL_MARGIN_MS = 2_000;

/** How and why `run()` ended. */
export interface AgentExit {
  code: (typeof ExitCode)[keyof typeof ExitCode];
  reason: string;
}

export interface AgentOptions {
  log?: Logger;
  /** Where tasks run; defaults to the exec driver's host on the work dir. */
  tasks?: TaskHost;
  /** Jitter source for the reconnect backoff. */
  random?: () => number;
  /** Limit on opening the socket and getting `registered` back. */
  registerTimeoutMs?: number;
  /** Tuning of the DNS forwarder (timeouts, clock), when `config.dns` turns it on. */
  dnsTuning?: DnsForwarderOptions["tuning"];
}

/** What the agent found out about itself before connecting. */
interface Setup {
  identity: Identity | undefined;
  resources: Resources;
  hostname: string;
  ip: string;
}

/**
 * A DCX agent: joins the cluster (or rejoins with its saved identity) and stays connected until
 * stopped or refused. `bun agent/main.ts` and `dcx agent run` both drive this class.
 */
export class Agent {
  private identity: Identity | undefined;
  private readonly log: Logger;
  private readonly tasks: TaskHost;
  private readonly logs: LogService;
  private readonly proxy: ProxyService;
  private readonly diagnostics: AgentDiagnostics;
  private readonly recentLog = new RecentLog();
  private readonly connection: Connection;
  private stopping: Promise<void> | undefined;
  private dns: DnsForwarder | undefined;
  private metrics: MetricsServer | undefined;
  private readonly vips: VipBalancer;

  private constructor(
    private readonly config: AgentConfig,
    private readonly setup: Setup,
    private readonly options: AgentOptions,
  ) {
    this.identity = setup.identity;
    // Every line the agent logs is also kept in memory for diagnostics bundles.
    this.log = teeLogger(options.log ?? createLogger(), createLogger({ write: (line) => this.recentLog.push(line) }));
    const exec = { dnsAddress: () => this.dns?.address };
    const docker =
      config.dockerSocket === undefined ? undefined : { socket: config.dockerSocket, agentId: () => this.identity?.agentId, dnsAddress: exec.dnsAddress };
    this.tasks = options.tasks ?? inWorkDir(() => createTaskHost({ workDir: config.workDir, log: this.log, exec, docker, policy: config.policy }));
    this.vips = new VipBalancer({
      log: this.log,
      kernel: { mode: config.vipMode ?? "auto", nft: new NftVips(nftTableName(config.workDir)) },
      ranges: { allowed: config.vipRanges ?? DEFAULT_VIP_RANGES },
    });
    this.logs = new LogService({ source: (taskId) => this.tasks.logSource(taskId), log: this.log });
    this.proxy = new ProxyService({ servicePorts: (taskId) => this.tasks.servicePorts(taskId), log: this.log });
    this.diagnostics = new AgentDiagnostics({
      workDir: config.workDir,
      drivers: () => this.tasks.fingerprints(),
      dockerConfigured: config.dockerSocket !== undefined,
      dns: () => this.dns?.address,
    });
    this.connection = new Connection({
      url: agentConnectUrl(config.master, config.cluster),
      bearer: () => this.identity?.credential ?? config.token ?? "",
      register: () => this.registerFrame(),
      onRegistered: (message) => this.onRegistered(message),
      onCommand: (command) => this.dispatch(command),
      onBinary: (frame) => this.proxy.data(frame),
      onSessionUp: (send, sendBinary) => {
        this.vips.registered();
        this.proxy.connected({ send, sendBinary });
        this.tasks.connected(send);
        this.logs.connected(send);
        this.diagnostics.connected(send);
      },
      onSessionDown: () => {
        this.tasks.disconnected();
        this.proxy.disconnected();
        this.logs.disconnected();
        this.diagnostics.disconnected();
      },
      backoff: new Backoff({ capMs: config.backoffMaxMs, random: options.random }),
      log: this.log,
      registerTimeoutMs: options.registerTimeoutMs,
    });
  }

  /**
   * Prepares an agent: creates the work dir, loads the identity, detects resources. Throws a
   * ConfigError naming the flag to fix when the agent cannot start as configured.
   */
  static create(config: AgentConfig, options: AgentOptions = {}): Agent {
    return new Agent(config, prepare(config), options);
  }

  /** The agent's id, once it has one. */
  get agentId(): string | undefined {
    return this.identity?.agentId;
  }

  /** The DNS forwarder's address as tasks get it in `DCX_DNS`, while it runs. */
  get dnsAddress(): string | undefined {
    return this.dns?.address;
  }

  /** Where the metrics endpoint listens (`host:port`), while it runs. */
  get metricsAddress(): string | undefined {
    return this.metrics?.address;
  }

  /**
   * Starts the DNS forwarder and the metrics endpoint when configured, then connects and stays
   * connected; resolves when stopped or refused for good, or at once when either cannot listen.
   */
  async run(): Promise<AgentExit> {
    this.logStart();
    const listenFailure = (await this.startDns()) ?? this.startMetrics();
    if (listenFailure !== undefined) {
      this.dns?.stop();
      await this.tasks.close({ killTasks: false });
      return listenFailure;
    }
    // Register only once the tasks left by an earlier agent process are re-attached and the
    // drivers probed: the register frame reports both.
    await this.tasks.ready();
    const end = await this.connection.run();
    await this.vips.stop();
    this.dns?.stop();
    this.metrics?.stop();
    this.logs.close();
    this.diagnostics.close();
    // Tasks keep running whatever ended the connection; the next agent process re-attaches.
    if (end.kind !== "stopped") await this.tasks.close({ killTasks: false });
    if (end.kind === "stopped") {
      // Resolve only once stop() has closed the socket and logged, so a caller may exit at once.
      await this.stopping;
      return { code: ExitCode.OK, reason: "stopped" };
    }
    if (end.kind === "failed") {
      this.log.error("identity_save_failed", { path: identityPath(this.config.workDir), error: end.error.message });
      return { code: ExitCode.IO_ERROR, reason: end.error.message };
    }
    const reason = this.refusalMessage(end.code);
    this.log.error(end.code === CloseCode.REMOVED ? "agent_removed" : "credential_rejected", { code: end.code, message: reason });
    return { code: ExitCode.CONFIG, reason };
  }

  /**
   * Shuts down: tasks first (killed only with --kill-tasks-on-exit; pending status updates are
   * flushed while the session is still up), then the session is closed with 1000. Safe to call
   * more than once.
   */
  stop(signal?: string): Promise<void> {
    this.stopping ??= this.shutdown(signal);
    return this.stopping;
  }

  /** How long a shutdown may take: longer when it has tasks to kill, each with its grace. */
  shutdownBudgetMs(): number {
    return this.config.killTasksOnExit ? this.tasks.maxKillGraceMs() + SHUTDOWN_KILL_MARGIN_MS : 0;
  }

  private async shutdown(signal: string | undefined): Promise<void> {
    // Follows read through the task host, which closing releases.
    this.logs.close();
    try {
      await this.tasks.close({ killTasks: this.config.killTasksOnExit });
    } catch (error) {
      this.log.error("tasks_close_failed", { error: errorMessage(error) });
    }
    await this.connection.stop("agent shutting down");
    this.log.info("shutdown", { signal });
  }

  /** Routes a master command to the part of the agent that serves it. */
  private dispatch(command: MasterCommand): void {
    if (command.type === "launchRefused") this.tasks.handle(command);
    else if (isLogCommand(command)) this.logs.handle(command);
    else if (isProxyCommand(command)) this.proxy.handle(command);
    else if (command.type === "bundle") this.diagnostics.answerBundle(command, this.recentLog.text());
    else if (command.type === "vips") void this.vips.update(command);
    else this.tasks.handle(command);
  }

  /** Starts the forwarder if configured; returns the exit to take when it cannot listen. */
  private async startDns(): Promise<AgentExit | undefined> {
    const dns = this.config.dns;
    if (dns === undefined) return undefined;
    const dohUrl = dns.upstream ?? clusterDohUrl(this.config.master, this.config.cluster);
    // Read per query: a joining agent gets its credential only at registration.
    const bearer = sendsCredential(dohUrl, this.config.master) ? () => this.identity?.credential : undefined;
    try {
      this.dns = await DnsForwarder.start({
        listen: dns.listen,
        zones: dns.zones,
        dohUrl,
        bearer,
        resolvConf: dns.resolvConf,
        log: this.log,
        tuning: this.options.dnsTuning,
      });
      return undefined;
    } catch (error) {
      const address = formatHostPort(dns.listen);
      this.log.error("dns_listen_failed", { address, error: errorMessage(error) });
      return { code: ExitCode.USAGE, reason: `--dns-listen: cannot listen on ${address}: ${errorMessage(error)}` };
    }
  }

  /** Starts the metrics endpoint if configured; returns the exit to take when it cannot listen. */
  private startMetrics(): AgentExit | undefined {
    const listen = this.config.metricsListen;
    if (listen === undefined) return undefined;
    try {
      this.metrics = startMetricsServer(listen, () => ({
        agentId: this.identity?.agentId,
        hostname: this.setup.hostname,
        version: AGENT_VERSION,
        resources: this.setup.resources,
        tasks: this.tasks.stats(),
        connection: this.connection.stats(),
        dnsQueries: this.dns?.queries.entries(),
        vips: this.vips.status(),
        vipPath: this.vips.pathStatus(),
      }));
      this.log.info("metrics_listening", { address: this.metrics.address, path: "/metrics" });
      return undefined;
    } catch (error) {
      const address = formatHostPort(listen);
      this.log.error("metrics_listen_failed", { address, error: errorMessage(error) });
      return { code: ExitCode.USAGE, reason: `--metrics-listen: cannot listen on ${address}: ${errorMessage(error)}` };
    }
  }

  private registerFrame(): Register {
    const tasks = this.tasks.reports();
    return {
      type: "register",
      protocol: PROTOCOL_VERSION,
      agentId: this.identity?.agentId,
      hostname: this.setup.hostname,
      ip: this.setup.ip,
      resources: this.setup.resources,
      // The operator's attributes win over what the drivers detect.
      attributes: { ...this.tasks.attributes(), ...this.config.attributes },
      // Sent only when public: a private agent's frame stays what masters before roles accept.
      ...(this.config.public ? { role: PUBLIC_ROLE } : {}),
      allowances: allowancesOf(this.config.policy ?? DEFAULT_POLICY),
      version: AGENT_VERSION,
      tasks,
      // The master skips reconciling these tasks when its record of them hashes the same (protocol/resume.ts).
      resume: { digest: taskSetDigest(aliveTasks(tasks)) },
    };
  }

  /** Keeps a newly issued credential; the session waits for this before it counts as up. */
  private onRegistered(message: Registered): void {
    if (message.credential !== undefined) {
      const identity = { agentId: message.agentId, credential: message.credential, cluster: this.config.cluster, master: this.config.master };
      saveIdentity(this.config.workDir, identity);
      this.identity = identity;
      this.log.info("identity_saved", { agentId: message.agentId, path: identityPath(this.config.workDir) });
    } else if (this.identity === undefined) {
      this.log.warn("registered_without_identity", {
        agentId: message.agentId,
        why: "the master sent no credential; the next session uses the join token again",
      });
    } else if (this.identity.agentId !== message.agentId) {
      this.log.warn("agent_id_mismatch", { expected: this.identity.agentId, got: message.agentId });
    }
  }

  private refusalMessage(code: number): string {
    const path = identityPath(this.config.workDir);
    const rejoin = `delete ${path} and start the agent with a new join token to join again`;
    if (code === CloseCode.REMOVED) return `the agent was removed from the cluster; ${rejoin}`;
    if (this.identity !== undefined) {
      return `the master rejected the agent credential: the agent was probably removed from the cluster; ${rejoin}`;
    }
    return "the master rejected the join token: it is unknown, expired or revoked; create a new agent join token";
  }

  private logStart(): void {
    const { identity, hostname, ip, resources } = this.setup;
    if (identity !== undefined && identity.master !== this.config.master) {
      this.log.warn("identity_master_differs", { saved: identity.master, using: this.config.master });
    }
    this.log.info("starting", {
      version: AGENT_VERSION,
      cluster: this.config.cluster,
      workDir: this.config.workDir,
      agentId: identity?.agentId,
      joining: identity === undefined,
      hostname,
      ip,
      resources: { ...resources, ports: resources.ports.map((range) => [...range]) },
      attributes: this.config.attributes,
      role: this.config.public ? PUBLIC_ROLE : "*",
      // What tasks may have of this host, so an operator can see what was allowed and by which flag.
      policy: { ...(this.config.policy ?? DEFAULT_POLICY) },
    });
  }
}

/** Everything that can go wrong before connecting, reported as a ConfigError naming a flag. */
function prepare(config: AgentConfig): Setup {
  // A missing work dir simply holds no identity; it is created only once the options check out.
  const identity = inWorkDir(() => loadIdentity(config.workDir));
  if (identity !== undefined) checkIdentityCluster(identity, config.cluster, config.workDir);
  if (identity === undefined && config.token === undefined) {
    throw new ConfigError(`--token is required (or set DCX_TOKEN): ${identityPath(config.workDir)} holds no agent identity yet`, "--token");
  }
  inWorkDir(() => ensureWorkDir(config.workDir));
  let resources: Resources;
  try {
    resources = resolveResources(config.workDir, config.resources);
  } catch (error) {
    throw new ConfigError(`--resources: ${errorMessage(error)}`, "--resources");
  }
  const setup = { identity, resources, hostname: config.hostname ?? detectHostname(), ip: config.advertiseIp ?? detectAdvertiseIp() };
  // A detected hostname may not fit the protocol (e.g. it has a space); say which flag fixes it.
  if (!Register.shape.hostname.safeParse(setup.hostname).success) {
    throw new ConfigError(`--hostname: this machine's hostname '${setup.hostname}' is not valid in the protocol; pass --hostname`, "--hostname");
  }
  return setup;
}

/** Runs a work-dir operation, blaming --work-dir if it fails (permissions, damaged identity). */
function inWorkDir<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    throw new ConfigError(`--work-dir: ${errorMessage(error)}`, "--work-dir");
  }
}
