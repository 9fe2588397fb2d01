import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

/**
 * Process accounting from /proc (Linux). Workers freeze `Date.now()` while they run, so the
 * benchmarks measure the control plane from outside: CPU ticks and RSS of the processes that
 * `wrangler dev` started.
 */

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, usually 100). */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  pgrp: number;
  /** utime + stime, in ms. */
  cpuMs: number;
}

/** One process's /proc/<pid>/stat, or undefined once it is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm is in parentheses and may hold spaces: split after the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state): field n is f[n - 3]; utime is 14, stime 15.
  const ticks = Number(f[11]) + Number(f[12]);
  return { pid, comm, ppid: Number(f[1]), pgrp: Number(f[2]), cpuMs: (ticks * 1000) / clkTck() };
}

/** Every live process whose process group is `pgrp` (the group a detached child leads). */
export function processGroup(pgrp: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s && s.pgrp === pgrp) out.push(s);
  }
  return out;
}

/** VmRSS and VmHWM (peak) of a process, in MB; undefined once it is gone. */
export function procMemory(pid: number): { rssMb: number; hwmMb: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}

/**
 * The processes a control plane's child started (startControlPlane), sorted into workerd and
 * the rest (wrangler's or the Miniflare runner's Node, esbuild). Under Miniflare's API one
 * workerd runs the Worker and its Durable Objects and listens on the port. `wrangler dev` runs
 * two: that runtime (started with an inspector address), and a proxy worker that listens on
 * the dev port and forwards every request and WebSocket to it.
 */
export interface WorkerdProcess extends ProcStat {
  role: "runtime" | "proxy";
}

export interface ControlPlaneProcesses {
  workerd: WorkerdProcess[];
  other: ProcStat[];
}

export function controlPlaneProcesses(wranglerPid: number): ControlPlaneProcesses {
  const group = processGroup(wranglerPid);
  const workerd = group.filter((p) => p.comm.startsWith("workerd"));
  const withInspector = workerd.filter((p) => cmdline(p.pid).includes("--inspector-addr"));
  const role = (p: ProcStat): WorkerdProcess["role"] => (workerd.length === 1 || withInspector.some((w) => w.pid === p.pid) ? "runtime" : "proxy");
  return { workerd: workerd.map((p) => ({ ...p, role: role(p) })), other: group.filter((p) => !p.comm.startsWith("workerd")) };
}

/**
 * The workerd processes to ask for the Worker isolate's inspector: wrangler dev's proxy, which
 * holds the runtime's own session and re-serves it, else the runtime itself (under Miniflare's
 * API nobody else holds its session).
 */
export function inspectorPids(procs: ControlPlaneProcesses): number[] {
  const proxies = procs.workerd.filter((p) => p.role === "proxy");
  return (proxies.length > 0 ? proxies : procs.workerd).map((p) => p.pid);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** CPU ms of a set of pids now, by pid; a pid that has exited keeps its last reading out of the sum. */
export function cpuByPid(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const s = procStat(pid);
    if (s) out.set(pid, s.cpuMs);
  }
  return out;
}

export function sumCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memGb: number;
  kernel: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  let kernel = "";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    // not Linux
  }
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || nproc;
  } catch {
    // keep os.cpus()
  }
  return {
    nproc,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel,
    node: process.version,
  };
}

/** CPU time the whole machine spent busy (all cores, /proc/stat: everything but idle and iowait), in ms. */
export function machineBusyMs(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
    return (busy * 1000) / clkTck();
  } catch {
    return 0;
  }
}

/** The 1-minute load average. */
export function loadAverage(): number {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}
