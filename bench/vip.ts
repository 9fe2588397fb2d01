/**
 * `npm run bench -- vip`: TCP connections per second and throughput through a named VIP against
 * the same through a direct connection to the task, in one run, on one machine: a control plane,
 * one real agent, one task behind `VIP_0`; once with the agent in `--vip-mode auto` (the kernel
 * data path, nftables NAT rules, when the bench runs as root with nft) and once in
 * `--vip-mode userspace` (the agent's own balancer), each against direct connections of its own
 * run. Writes bench/results/vip.json. `measureVip` is exported for benchmarks that report it with others.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/lib/control-plane.ts";
import { freePort, waitFor } from "../scripts/lib/processes.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { oneAgentCluster } from "./lib/one-agent.ts";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpuByPid, loadAverage, machineInfo, processGroup, sumCpuDelta } from "./lib/procfs.ts";
import { fmt, round, table, writeJson } from "./lib/report.ts";

const BACKEND = join(ROOT, "bench", "fixtures", "tcp-backend.mjs");
/** The VIP ratio this machine should reach (issue 12). */
export const VIP_RATIO_TARGET = 0.8;

export interface VipOptions {
  /** Seconds per connection-rate phase (each of VIP and direct, twice). */
  seconds?: number;
  /** Connections in flight at once in the connection-rate phases. */
  concurrency?: number;
  /** Megabytes per throughput phase, over `streams` parallel connections. */
  downloadMB?: number;
  streams?: number;
}

/** The data path that served the VIP: nftables rules the agent programmed, or the agent's listener. */
export type VipPath = "kernel" | "userspace";

/** One cluster's measurement: its VIP against direct connections to the same task. */
export interface PathResult {
  vipMode: VipPath;
  vipConnsPerSecond: number;
  directConnsPerSecond: number;
  vipRatio: number;
  vipMBps: number;
  directMBps: number;
  errors: { vip: number; direct: number };
  /** Where the CPU went, in µs per connection: the load generator, the task, and the agent's balancer. */
  cpuMicrosPerConnection: { vip: CpuSplit; direct: CpuSplit };
}

/** The headline figures are the `auto` run's (kernel when available); the userspace run's are beside them. */
export interface VipResult extends PathResult {
  userspaceVipConnsPerSecond: number;
  userspaceDirectConnsPerSecond: number;
  userspaceVipRatio: number;
  userspaceVipMBps: number;
  userspace: PathResult;
}

interface CpuSplit {
  client: number;
  task: number;
  agent: number;
}

/** The pids of the agent (its process group: bun and what it runs in-process) and of the backend task. */
interface Pids {
  agent: number[];
  task: number[];
}

/** Processes whose command line names the backend fixture. */
function taskPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "latin1").includes("tcp-backend.mjs")) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

interface Target {
  host: string;
  port: number;
  /** The local address connections come from (the kernel's choice when absent). */
  from?: string;
}

/**
 * Direct connections come from an address of their own. Through the kernel path a VIP
 * connection reaches the task as 127.0.0.1:eph → task port, the very tuple a direct connection
 * from 127.0.0.1 may have left in the task's TIME_WAIT; the two carry TCP timestamps of
 * different offsets (the kernel derives them from source and destination address, and the VIP's
 * address is not the task's), so the task's PAWS check drops such a SYN and the client resends it
 * a second later. That measures the mixing of two paths in one client, not either path.
 */
const DIRECT_SOURCE = "127.0.0.10";

/** One connection: send a line, read until the server closes; resolves with the bytes read. */
function exchange(target: Target, line: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const socket = connect({ host: target.host, port: target.port, localAddress: target.from, noDelay: true }, () => socket.write(line));
    socket.on("data", (d: Buffer) => (bytes += d.length));
    socket.on("end", () => {
      socket.destroy();
      resolve(bytes);
    });
    socket.on("error", reject);
  });
}

/** `concurrency` loops of connect–ping–pong–close for `seconds`; connections completed per second. */
async function connectionRate(target: Target, seconds: number, concurrency: number): Promise<{ perSecond: number; errors: number }> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          if ((await exchange(target, "ping\n")) === 5) done++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { perSecond: done / ((performance.now() - started) / 1000), errors };
}

/** Downloads `mb` megabytes over `streams` connections; MB/s. */
async function throughput(target: Target, mb: number, streams: number): Promise<number> {
  const each = Math.floor((mb * 1024 * 1024) / streams);
  const started = performance.now();
  const got = await Promise.all(Array.from({ length: streams }, () => exchange(target, `get ${each}\n`)));
  const seconds = (performance.now() - started) / 1000;
  const total = got.reduce((a, b) => a + b, 0);
  if (total !== each * streams) throw new Error(`throughput: got ${total} bytes of ${each * streams}`);
  return total / (1024 * 1024) / seconds;
}

interface Cluster {
  vip: Target;
  direct: Target;
  pids: Pids;
  /** Which path serves the VIP: the kernel when the agent's nftables rule for it is loaded. */
  path: VipPath;
  stop(): Promise<void>;
}

/** Whether an nftables rule translating `target` is loaded (any agent's table). */
function kernelServes(target: Target): boolean {
  try {
    return execFileSync("nft", ["list", "ruleset"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).includes(
      `ip daddr ${target.host} tcp dport ${target.port} dnat`,
    );
  } catch {
    return false;
  }
}

/** A cluster of one agent (`--vip-mode mode`) running the backend task behind `VIP_0`; returns the VIP and the task's own address. */
async function startCluster(dir: string, mode: "auto" | "userspace"): Promise<Cluster> {
  // Task ports from a block of its own: the default 31000–32000 may be held by other runs' tasks.
  const first = 24_000 + 50 * Math.floor(Math.random() * 100);
  const { api, agent, stopAgent, stopControlPlane } = await oneAgentCluster(dir, {
    name: "vip",
    vars: { DNS_UPSTREAM: "off" },
    // A range of its own inside 127.0.0.0/8: loopback only, apart from any other cluster on the machine.
    beforeAgent: (account) =>
      account.call("PATCH", account.c("/dns"), { vipRange: `127.11.${10 + Math.floor(Math.random() * 240)}.0/24` }).then(() => undefined),
    agent: { advertiseIp: "127.0.0.1", resources: `cpus:2;mem:2048;disk:1024;ports:[${first}-${first + 49}]`, extraArgs: ["--vip-mode", mode] },
  });
  const vipPort = await freePort();
  await api.call("POST", api.c("/v2/apps"), {
    id: "/tcp",
    cmd: `exec node ${BACKEND}`,
    cpus: 0.5,
    mem: 128,
    portDefinitions: [{ port: 0, labels: { VIP_0: `/tcp:${vipPort}` } }],
  });
  type Table = { vips: { ip: string; port: number; backends: { host: string; port: number }[] }[] };
  const vip = await waitFor(
    "the VIP with its backend",
    async () => (await api.call<Table>("GET", api.c("/vips"))).body.vips.find((v) => v.backends.length === 1),
    60_000,
    100,
  );
  const backend = vip.backends[0] as { host: string; port: number };
  const direct = { host: backend.host, port: backend.port, from: DIRECT_SOURCE };
  const target = { host: vip.ip, port: vip.port };
  // RUNNING comes before the task listens, and the agent binds the VIP as the table arrives.
  for (const t of [direct, target])
    await waitFor(
      `${t.host}:${t.port} answering`,
      () =>
        exchange(t, "ping\n").then(
          (n) => (n === 5 ? true : undefined),
          () => undefined,
        ),
      30_000,
      100,
    );
  const agentPid = agent.proc.pid ?? 0;
  const stop = async () => {
    await stopAgent();
    await stopControlPlane();
  };
  return {
    vip: target,
    direct,
    pids: { agent: processGroup(agentPid).map((p) => p.pid), task: taskPids() },
    path: kernelServes(target) ? "kernel" : "userspace",
    stop,
  };
}

/** One connection-rate phase, with the CPU each party spent on it. */
async function measuredRate(target: Target, seconds: number, concurrency: number, pids: Pids): Promise<{ perSecond: number; errors: number; cpu: CpuSplit }> {
  const before = { agent: cpuByPid(pids.agent), task: cpuByPid(pids.task), client: process.cpuUsage() };
  const started = performance.now();
  const r = await connectionRate(target, seconds, concurrency);
  const count = Math.max(1, r.perSecond * ((performance.now() - started) / 1000));
  const client = process.cpuUsage(before.client);
  const perConn = (ms: number) => round((ms * 1000) / count, 1);
  return {
    ...r,
    cpu: {
      client: perConn((client.user + client.system) / 1000),
      task: perConn(sumCpuDelta(before.task, cpuByPid(pids.task))),
      agent: perConn(sumCpuDelta(before.agent, cpuByPid(pids.agent))),
    },
  };
}

/**
 * Measures one cluster's VIP against a direct connection, alternating (direct, VIP, direct, VIP)
 * so drift on a shared machine falls on both; each figure is the better of its two phases.
 */
async function measurePath(dir: string, mode: "auto" | "userspace", options: VipOptions): Promise<PathResult> {
  const seconds = options.seconds ?? 4;
  const concurrency = options.concurrency ?? 16;
  const cluster = await startCluster(dir, mode);
  const { vip, direct, pids } = cluster;
  const rates = { vip: [] as number[], direct: [] as number[] };
  const errors = { vip: 0, direct: 0 };
  const cpu: Partial<Record<"vip" | "direct", CpuSplit>> = {};
  for (let round = 0; round < 2; round++) {
    for (const [kind, target] of [
      ["direct", direct],
      ["vip", vip],
    ] as const) {
      const r = await measuredRate(target, seconds, concurrency, pids);
      if (r.perSecond > Math.max(0, ...rates[kind])) cpu[kind] = r.cpu;
      rates[kind].push(r.perSecond);
      errors[kind] += r.errors;
    }
  }
  const mb = options.downloadMB ?? 512;
  const streams = options.streams ?? 4;
  const directMBps = Math.max(await throughput(direct, mb, streams), await throughput(direct, mb, streams));
  const vipMBps = Math.max(await throughput(vip, mb, streams), await throughput(vip, mb, streams));
  await cluster.stop();
  const vipConnsPerSecond = Math.max(...rates.vip);
  const directConnsPerSecond = Math.max(...rates.direct);
  const none = { client: NaN, task: NaN, agent: NaN };
  return {
    vipMode: cluster.path,
    vipConnsPerSecond,
    directConnsPerSecond,
    vipRatio: vipConnsPerSecond / directConnsPerSecond,
    vipMBps,
    directMBps,
    errors,
    cpuMicrosPerConnection: { vip: cpu.vip ?? none, direct: cpu.direct ?? none },
  };
}

/** The VIP in `--vip-mode auto` (the kernel path where it loads) and in `userspace`, each against direct connections. */
export async function measureVip(options: VipOptions = {}): Promise<VipResult> {
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-vip-"));
  onCleanup("temp dir", () => rmSync(dir, { recursive: true, force: true }));
  const auto = await measurePath(join(dir, "auto"), "auto", options);
  const userspace = await measurePath(join(dir, "userspace"), "userspace", options);
  return {
    ...auto,
    userspaceVipConnsPerSecond: userspace.vipConnsPerSecond,
    userspaceDirectConnsPerSecond: userspace.directConnsPerSecond,
    userspaceVipRatio: userspace.vipRatio,
    userspaceVipMBps: userspace.vipMBps,
    userspace,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: "string", default: "4" }, concurrency: { type: "string", default: "16" }, mb: { type: "string", default: "512" } },
  });
  const options = { seconds: Number(values.seconds), concurrency: Number(values.concurrency), downloadMB: Number(values.mb) };
  const r = await measureVip(options);
  const result = {
    benchmark: "vip",
    timestamp: new Date().toISOString(),
    machine: machineInfo(),
    loadAverage1m: loadAverage(),
    ...options,
    ...r,
    vipRatioTarget: VIP_RATIO_TARGET,
    throughputRatio: round(r.vipMBps / r.directMBps, 3),
    context:
      "Each connection: connect, send a line, read the answer, close. Direct goes to the task's host port. VIP in kernel mode (vipMode, the agent run with --vip-mode auto as root with nft): the agent's nftables table DNATs the VIP to the task port in the kernel's nat output chain, so the connection goes straight to the task. VIP in userspace mode (userspace*, --vip-mode userspace): the agent's balancer (a Bun process listening on the VIP address) connects to the same task port and splices the two sockets. Each mode runs in a cluster of its own with direct phases of its own. Load generator, agent and task share the machine's cores.",
  };
  const u = r.userspace;
  console.log(
    table(`VIP (${r.vipMode} data path; userspace beside it) vs direct`, [
      { name: "direct connections/s", value: fmt(r.directConnsPerSecond, 0), note: `${options.concurrency} in flight, ${options.seconds} s, best of 2` },
      { name: `VIP connections/s (${r.vipMode})`, value: fmt(r.vipConnsPerSecond, 0), note: `errors: vip ${r.errors.vip}, direct ${r.errors.direct}` },
      { name: "vipRatio", value: fmt(r.vipRatio, 3), note: `target ≥ ${VIP_RATIO_TARGET}: ${r.vipRatio >= VIP_RATIO_TARGET ? "met" : "MISSED"}` },
      {
        name: "VIP connections/s (userspace)",
        value: fmt(u.vipConnsPerSecond, 0),
        note: `ratio ${fmt(u.vipRatio, 3)} against its run's direct ${fmt(u.directConnsPerSecond, 0)}/s; errors ${u.errors.vip}`,
      },
      { name: "direct MB/s", value: fmt(r.directMBps, 0), note: `${options.downloadMB} MB over 4 connections` },
      { name: `VIP MB/s (${r.vipMode})`, value: fmt(r.vipMBps, 0), note: `ratio ${fmt(result.throughputRatio, 3)}; userspace ${fmt(u.vipMBps, 0)}` },
      ...(
        [
          ["direct", r],
          [r.vipMode, r],
          ["userspace", u],
        ] as const
      ).map(([name, run], i) => {
        const c = run.cpuMicrosPerConnection[i === 0 ? "direct" : "vip"];
        return {
          name: `CPU µs/conn (${i === 0 ? "direct" : `VIP, ${name}`})`,
          value: fmt(c.client + c.task + c.agent, 0),
          note: `client ${fmt(c.client, 0)}, task ${fmt(c.task, 0)}, agent ${fmt(c.agent, 0)}`,
        };
      }),
    ]),
  );
  writeJson(join(ROOT, "bench", "results", "vip.json"), result);
  return 0;
}
