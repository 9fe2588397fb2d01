import { isAbsolute, normalize, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Register, Resources, normalizeCapability, parseAttributeString, parseResourceString, plainTextRefusal } from "../protocol/index.ts";
import type { Attributes } from "../protocol/index.ts";
import type { z } from "zod";
import { DEFAULT_DOCKER_SOCKET } from "./drivers/docker-api.ts";
import { parseHostPort } from "./dns/listen-address.ts";
import type { HostPort } from "./dns/listen-address.ts";
import { DEFAULT_RESOLV_CONF } from "./dns/resolv-conf.ts";
import { DEFAULT_ZONE, DIRECTORY_ZONE, parseZone } from "./dns/zones.ts";
import { DEFAULT_TASK_USER } from "./drivers/users.ts";
import type { AgentPolicy } from "./policy.ts";
import { parseCidr } from "../protocol/vips.ts";
import { DEFAULT_VIP_RANGES } from "./vips/allowed-ranges.ts";
import { VIP_MODES, type VipMode } from "./vips/kernel-path.ts";

/** Everything the agent needs from its command line and environment, validated. */
export interface AgentConfig {
  /** Base URL of the control plane (http, https, ws or wss), without a trailing slash. */
  master: string;
  cluster: string;
  /** Join token; needed only until the agent holds an identity in its work dir. */
  token?: string;
  /** Absolute path of the agent's work dir. */
  workDir: string;
  /** Only the resources named by `--resources`; the rest are detected. */
  resources: Partial<Resources>;
  attributes: Attributes;
  /**
   * A public agent (`--public`): its resources are offered to the role `slave_public` only.
   * Parsing always sets it; absent means private.
   */
  public?: boolean;
  hostname?: string;
  advertiseIp?: string;
  /** Cap of the reconnect backoff. */
  backoffMaxMs: number;
  /** Kill every task on shutdown instead of leaving them running for the next agent process. */
  killTasksOnExit: boolean;
  /** The DNS forwarder; absent unless `--dns-listen` is given. */
  dns?: DnsConfig;
  /** The Docker daemon's unix socket; undefined when the docker driver is turned off (`none`). */
  dockerSocket?: string;
  /** Where the Prometheus metrics endpoint listens; absent unless `--metrics-listen` is given. */
  metricsListen?: HostPort;
  /**
   * What tasks may have of the host (`--allow-*`, `--task-user`); parsing always sets it, and
   * absent means DEFAULT_POLICY: nothing beyond the task's sandbox.
   */
  policy?: AgentPolicy;
  /** How VIPs are balanced (`--vip-mode`); parsing always sets it, and absent means `auto`. */
  vipMode?: VipMode;
  /** The blocks VIP ranges must lie in (`--vip-ranges`); parsing always sets it, and absent means DEFAULT_VIP_RANGES. */
  vipRanges?: string[];
}

/** How the agent's DNS forwarder runs. */
export interface DnsConfig {
  listen: HostPort;
  /** Canonical names of the zones answered through DoH; always includes thisdcos.directory. */
  zones: string[];
  /** A DoH URL replacing the control plane's `{master}/c/{cluster}/dns-query`. */
  upstream?: string;
  /** Where the machine's own resolvers are listed. */
  resolvConf: string;
}

/** A bad or missing option; `flag` names it so the message can point the operator at it. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

export const DEFAULT_BACKOFF_MAX_MS = 30_000;

/** Each string option with the environment variable that can stand in for it. */
const STRING_OPTIONS = {
  master: "DCX_MASTER",
  cluster: "DCX_CLUSTER",
  token: "DCX_TOKEN",
  "work-dir": "DCX_WORK_DIR",
  resources: "DCX_RESOURCES",
  attributes: "DCX_ATTRIBUTES",
  hostname: "DCX_HOSTNAME",
  "advertise-ip": "DCX_ADVERTISE_IP",
  "backoff-max-ms": "DCX_BACKOFF_MAX_MS",
  "dns-listen": "DCX_DNS_LISTEN",
  "dns-zone": "DCX_DNS_ZONE",
  "dns-upstream": "DCX_DNS_UPSTREAM",
  "dns-resolv-conf": "DCX_DNS_RESOLV_CONF",
  "docker-socket": "DCX_DOCKER_SOCKET",
  "metrics-listen": "DCX_METRICS_LISTEN",
  "vip-mode": "DCX_VIP_MODE",
  "vip-ranges": "DCX_VIP_RANGES",
  "allow-host-paths": "DCX_ALLOW_HOST_PATHS",
  "allow-capabilities": "DCX_ALLOW_CAPABILITIES",
  "allow-devices": "DCX_ALLOW_DEVICES",
  "task-user": "DCX_TASK_USER",
} as const;
type OptionName = keyof typeof STRING_OPTIONS;

/** Each on/off flag with its environment variable (1/true/yes or 0/false/no). */
const BOOLEAN_OPTIONS = {
  "kill-tasks-on-exit": "DCX_KILL_TASKS_ON_EXIT",
  insecure: "DCX_INSECURE",
  "allow-privileged": "DCX_ALLOW_PRIVILEGED",
  "allow-root-tasks": "DCX_ALLOW_ROOT_TASKS",
  public: "DCX_PUBLIC",
} as const;
type BooleanName = keyof typeof BOOLEAN_OPTIONS;

const PARSE_OPTIONS = {
  ...(Object.fromEntries(Object.keys(STRING_OPTIONS).map((name) => [name, { type: "string" }])) as Record<OptionName, { type: "string" }>),
  help: { type: "boolean", short: "h" },
  ...(Object.fromEntries(Object.keys(BOOLEAN_OPTIONS).map((name) => [name, { type: "boolean" }])) as Record<BooleanName, { type: "boolean" }>),
} as const;

/** Printed by `--help`. */
export const USAGE = `Usage: bun agent/main.ts --master URL --cluster ID --token TOKEN --work-dir DIR [options]

Connects this machine to a DCX cluster and keeps it connected.

Options (each may also be given as the environment variable shown; a flag wins):
  --master URL          control plane base URL, e.g. http://127.0.0.1:8787    DCX_MASTER
  --cluster ID          cluster id                                            DCX_CLUSTER
  --token TOKEN         agent join token; needed only until the work dir      DCX_TOKEN
                        holds an identity (identity.json)
  --work-dir DIR        where the agent keeps its identity and state          DCX_WORK_DIR
  --resources SPEC      override detected resources, e.g.                     DCX_RESOURCES
                        "cpus:2;mem:1024;disk:4096;ports:[31000-32000]"
  --attributes SPEC     agent attributes, e.g. "rack:r1;zone:a"               DCX_ATTRIBUTES
  --public              a public agent: offers its resources to the role        DCX_PUBLIC
                        slave_public only (apps with acceptedResourceRoles
                        ["slave_public"]); the master adds the attribute public_ip:true
  --hostname H          hostname to report (default: this machine's)          DCX_HOSTNAME
  --advertise-ip IP     IP to report (default: first non-internal IPv4)       DCX_ADVERTISE_IP
  --backoff-max-ms N    cap of the reconnect backoff in ms (default ${DEFAULT_BACKOFF_MAX_MS}) DCX_BACKOFF_MAX_MS
  --kill-tasks-on-exit  kill every task on SIGTERM/SIGINT; by default tasks   DCX_KILL_TASKS_ON_EXIT
                        keep running and the next agent re-attaches (1/true)
  --docker-socket PATH  the Docker daemon's unix socket for DOCKER apps      DCX_DOCKER_SOCKET
                        (default ${DEFAULT_DOCKER_SOCKET}; Podman's works too;
                        "none" turns the docker driver off)
  --metrics-listen ADDR serve Prometheus metrics at http://ADDR/metrics;      DCX_METRICS_LISTEN
                        IP:PORT, [IPv6]:PORT, or PORT alone for 127.0.0.1
  --vip-mode MODE       how VIPs are balanced: kernel (nftables NAT rules;     DCX_VIP_MODE
                        root and the nft command needed), userspace (a
                        listener in the agent), or auto (default: kernel
                        when it loads, else userspace)
  --vip-ranges CIDRS    the blocks a cluster's VIP range must lie in,          DCX_VIP_RANGES
                        comma-separated (default ${DEFAULT_VIP_RANGES.join(",")});
                        a range holding this machine's own addresses is
                        refused whatever the blocks
  --insecure            allow a plain http/ws --master that is not loopback   DCX_INSECURE
                        (the join token and credential then cross the
                        network in clear text); loopback is always allowed
  -h, --help            print this help and exit

Task policy (tasks get nothing of the host beyond their sandbox unless allowed here):
  --allow-privileged    run privileged docker containers                      DCX_ALLOW_PRIVILEGED
  --allow-host-paths P  docker volumes may mount host paths under these       DCX_ALLOW_HOST_PATHS
                        comma-separated prefixes (symlinks resolved)
  --allow-capabilities C  docker cap-add may add these capabilities,          DCX_ALLOW_CAPABILITIES
                        comma-separated (NET_ADMIN,SYS_TIME), or ALL
  --allow-devices P     docker device may name host devices under these       DCX_ALLOW_DEVICES
                        comma-separated paths, e.g. /dev/fuse
  --allow-root-tasks    exec tasks may run as root (user root, uid 0)         DCX_ALLOW_ROOT_TASKS
  --task-user USER      who exec tasks without a user run as when the agent   DCX_TASK_USER
                        is root (default ${DEFAULT_TASK_USER})

DNS forwarder (off unless --dns-listen is given; tasks then get its address in DCX_DNS):
  --dns-listen ADDR     serve DNS on UDP and TCP at IP:PORT or [IPv6]:PORT,   DCX_DNS_LISTEN
                        e.g. 127.0.0.1:5353
  --dns-zone ZONES      cluster zones answered through DoH, comma-separated   DCX_DNS_ZONE
                        (default ${DEFAULT_ZONE}; ${DIRECTORY_ZONE} is always added)
  --dns-upstream URL    DoH URL for those zones instead of the control        DCX_DNS_UPSTREAM
                        plane's MASTER/c/CLUSTER/dns-query (which gets the
                        agent credential), e.g. https://HOST/dns/KEY/dns-query
  --dns-resolv-conf F   resolvers for every other name                        DCX_DNS_RESOLV_CONF
                        (default ${DEFAULT_RESOLV_CONF})

Exit codes: 0 stopped by SIGTERM/SIGINT, 2 bad options (or a --dns-listen or --metrics-listen
address that cannot be bound), 74 identity could not be saved, 78 credential or join token rejected, or agent removed.
`;

/** True when the command line asks for help; checked before validation so help always works. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/**
 * Parses the agent's flags and `DCX_*` environment variables into a validated config. Pure: it
 * reads nothing but its arguments. Throws a ConfigError naming the offending flag.
 */
export function parseAgentConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): AgentConfig {
  const flags = readFlags(argv);
  const option = (name: OptionName): Sourced | undefined => pick(name, flags.strings, env);
  const master = required(option("master"), "master");
  const cluster = required(option("cluster"), "cluster");
  const workDir = required(option("work-dir"), "work-dir");
  const token = option("token");
  const resources = option("resources");
  const attributes = option("attributes");
  const hostname = option("hostname");
  const advertiseIp = option("advertise-ip");
  const backoffMaxMs = option("backoff-max-ms");
  const flag = (name: BooleanName): boolean => flags.booleans[name] ?? parseEnvBoolean(BOOLEAN_OPTIONS[name], env[BOOLEAN_OPTIONS[name]], `--${name}`);
  return {
    master: parseMaster(master, flag("insecure")),
    cluster: parseCluster(cluster),
    token: token === undefined ? undefined : parseToken(token),
    workDir: resolve(workDir.value),
    resources: resources === undefined ? {} : parseResources(resources),
    attributes: attributes === undefined ? {} : guard(attributes, () => parseAttributeString(attributes.value)),
    public: flag("public"),
    hostname: hostname === undefined ? undefined : parseWith(hostname, Register.shape.hostname),
    advertiseIp: advertiseIp === undefined ? undefined : parseWith(advertiseIp, Register.shape.ip),
    backoffMaxMs: backoffMaxMs === undefined ? DEFAULT_BACKOFF_MAX_MS : parseBackoffMax(backoffMaxMs),
    killTasksOnExit: flag("kill-tasks-on-exit"),
    dns: parseDns(option),
    dockerSocket: parseDockerSocket(option("docker-socket")),
    metricsListen: parseMetricsListen(option("metrics-listen")),
    vipMode: parseVipMode(option("vip-mode")),
    vipRanges: parseVipRanges(option("vip-ranges")),
    policy: {
      allowPrivileged: flag("allow-privileged"),
      allowRootTasks: flag("allow-root-tasks"),
      allowHostPaths: parsePaths(option("allow-host-paths")),
      allowDevices: parsePaths(option("allow-devices")),
      allowCapabilities: parseCapabilities(option("allow-capabilities")),
      taskUser: parseTaskUser(option("task-user")),
    },
  };
}

/** `IP:PORT`, `[IPv6]:PORT`, or a port alone, which listens on loopback only: metrics are not for the world by default. */
function parseMetricsListen(option: Sourced | undefined): HostPort | undefined {
  if (option === undefined) return undefined;
  const text = /^\d{1,5}$/.test(option.value) ? `127.0.0.1:${option.value}` : option.value;
  return guard(option, () => parseHostPort(text));
}

function parseVipMode(option: Sourced | undefined): VipMode {
  if (option === undefined) return "auto";
  const mode = VIP_MODES.find((m) => m === option.value);
  return mode ?? fail(option, `expected one of ${VIP_MODES.join(", ")}`);
}

/** Comma-separated IPv4 CIDR blocks, each without host bits. */
function parseVipRanges(option: Sourced | undefined): string[] {
  if (option === undefined) return [...DEFAULT_VIP_RANGES];
  const blocks = option.value.split(",").map((block) => block.trim());
  const bad = blocks.find((block) => parseCidr(block) === undefined);
  if (bad !== undefined) fail(option, `'${bad}' is not an IPv4 CIDR block such as 11.0.0.0/8 (no host bits may be set)`);
  return blocks;
}

/** Comma-separated absolute paths, normalised; relative ones would depend on the agent's directory. */
function parsePaths(option: Sourced | undefined): string[] {
  if (option === undefined) return [];
  const paths = option.value.split(",").map((path) => path.trim());
  const bad = paths.find((path) => !isAbsolute(path) || path.split("/").includes(".."));
  if (bad !== undefined) fail(option, `'${bad}' must be an absolute path without .. segments`);
  return paths.map((path) => normalize(path));
}

function parseCapabilities(option: Sourced | undefined): string[] {
  if (option === undefined) return [];
  const caps = option.value.split(",").map(normalizeCapability);
  const bad = caps.find((cap) => !/^[A-Z][A-Z0-9_]*$/.test(cap));
  if (bad !== undefined) fail(option, `'${bad}' is not a capability name (e.g. NET_ADMIN, or ALL)`);
  return caps;
}

function parseTaskUser(option: Sourced | undefined): string {
  if (option === undefined) return DEFAULT_TASK_USER;
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/.test(option.value)) fail(option, `'${option.value}' is not a user name`);
  return option.value;
}

/** An absolute socket path, or `none`; relative paths are resolved like --work-dir. */
function parseDockerSocket(option: Sourced | undefined): string | undefined {
  if (option === undefined) return DEFAULT_DOCKER_SOCKET;
  if (option.value === "none") return undefined;
  if (option.value.trim() === "") throw new ConfigError(`${option.label}: expected a unix socket path, or none`, "--docker-socket");
  return resolve(option.value);
}

/** A raw option value and where it came from, so errors can name the flag or the variable. */
interface Sourced {
  name: OptionName;
  value: string;
  /** `--master`, or `--master (DCX_MASTER)` when the value came from the environment. */
  label: string;
}

interface Flags {
  strings: Partial<Record<OptionName, string>>;
  booleans: Partial<Record<BooleanName, boolean>>;
}

function readFlags(argv: readonly string[]): Flags {
  try {
    const { values } = parseArgs({ args: [...argv], options: PARSE_OPTIONS, strict: true, allowPositionals: false });
    const strings: Partial<Record<OptionName, string>> = {};
    const booleans: Partial<Record<BooleanName, boolean>> = {};
    for (const [name, value] of Object.entries(values)) {
      if (typeof value === "string") strings[name as OptionName] = value;
      else if (name !== "help" && value !== undefined) booleans[name as BooleanName] = value;
    }
    return { strings, booleans };
  } catch (error) {
    // parseArgs already names the flag ("Unknown option '--foo'", "Option '--master <value>' argument missing").
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

function pick(name: OptionName, flags: Partial<Record<OptionName, string>>, env: Readonly<Record<string, string | undefined>>): Sourced | undefined {
  const flag = flags[name];
  if (flag !== undefined) return { name, value: flag, label: `--${name}` };
  const envName = STRING_OPTIONS[name];
  const fromEnv = env[envName];
  // An empty variable is how shells and unit files unset things; treat it as absent.
  if (fromEnv === undefined || fromEnv === "") return undefined;
  return { name, value: fromEnv, label: `--${name} (${envName})` };
}

function required(option: Sourced | undefined, name: OptionName): Sourced {
  if (option === undefined) throw new ConfigError(`--${name} is required (or set ${STRING_OPTIONS[name]})`, `--${name}`);
  if (option.value.trim() === "") fail(option, "must not be empty");
  return option;
}

function fail(option: Sourced, problem: string): never {
  throw new ConfigError(`${option.label}: ${problem}`, `--${option.name}`);
}

/** Runs a parser that throws plain Errors and re-throws them as ConfigErrors naming the flag. */
function guard<T>(option: Sourced, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    return fail(option, error instanceof Error ? error.message : String(error));
  }
}

function parseWith<T>(option: Sourced, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(option.value);
  if (parsed.success) return parsed.data;
  return fail(option, `'${option.value}' is invalid: ${parsed.error.issues[0]?.message ?? "invalid value"}`);
}

function parseMaster(option: Sourced, insecure: boolean): string {
  const url = guard(option, () => new URL(option.value));
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) fail(option, `'${option.value}' must be an http, https, ws or wss URL`);
  if (url.search !== "" || url.hash !== "") fail(option, `'${option.value}' must not carry a query or fragment`);
  const plainText = insecure ? undefined : plainTextRefusal(url);
  if (plainText !== undefined) fail(option, plainText);
  return url.href.replace(/\/+$/, "");
}

function parseCluster(option: Sourced): string {
  // The id becomes a URL path segment, so it must not need escaping.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(option.value)) fail(option, `'${option.value}' must be 1-128 letters, digits, . _ -`);
  return option.value;
}

function parseToken(option: Sourced): string {
  // The value goes into an HTTP header; never echo it back in the message.
  if (!/^[\x21-\x7e]+$/.test(option.value)) fail(option, "must be printable ASCII without spaces");
  return option.value;
}

function parseResources(option: Sourced): Partial<Resources> {
  const overrides = guard(option, () => parseResourceString(option.value));
  // Validate the bounds now so the error names the flag. Only check: the partial schema fills in
  // defaults (ports: []) that would wrongly override what the machine offers.
  const checked = Resources.partial().safeParse(overrides);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    fail(option, `${issue?.path.join(".") ?? "value"}: ${issue?.message ?? "invalid"}`);
  }
  return overrides;
}

/** An on/off variable: 1/true/yes or 0/false/no (any case); empty or unset is off. */
function parseEnvBoolean(name: string, value: string | undefined, flag: string): boolean {
  const normalized = (value ?? "").trim().toLowerCase();
  if (["", "0", "false", "no"].includes(normalized)) return false;
  if (["1", "true", "yes"].includes(normalized)) return true;
  throw new ConfigError(`${flag} (${name}): '${value}' must be 1, true, yes, 0, false or no`, flag);
}

function parseBackoffMax(option: Sourced): number {
  const ms = Number(option.value);
  if (!/^\d+$/.test(option.value) || ms < 1 || ms > 3_600_000) fail(option, `'${option.value}' must be a whole number of milliseconds between 1 and 3600000`);
  return ms;
}

/** The forwarder's options; the other --dns-* options mean nothing without --dns-listen. */
function parseDns(option: (name: OptionName) => Sourced | undefined): DnsConfig | undefined {
  const listen = option("dns-listen");
  if (listen === undefined) return undefined;
  const zones = option("dns-zone");
  const upstream = option("dns-upstream");
  const resolvConf = option("dns-resolv-conf");
  return {
    listen: guard(listen, () => parseHostPort(listen.value)),
    zones: zones === undefined ? [DEFAULT_ZONE, DIRECTORY_ZONE] : parseZones(zones),
    upstream: upstream === undefined ? undefined : parseDohUrl(upstream),
    resolvConf: resolvConf === undefined ? DEFAULT_RESOLV_CONF : resolve(resolvConf.value),
  };
}

function parseZones(option: Sourced): string[] {
  const zones = guard(option, () => option.value.split(",").map(parseZone));
  return [...new Set([...zones, DIRECTORY_ZONE])];
}

function parseDohUrl(option: Sourced): string {
  // The URL may carry a DoH key, so no message here echoes it.
  const url = URL.parse(option.value);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) fail(option, "must be an http or https URL");
  if (url.hash !== "") fail(option, "must not carry a fragment");
  return url.href;
}
