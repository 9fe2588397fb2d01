/** CPU and memory accounting of the placement benchmark: workerd (runtime, proxy), wrangler, the simulated agents. */
import { isolateHeap } from "../lib/inspector.ts";
import { controlPlaneProcesses, cpuByPid, inspectorPids, machineBusyMs, procMemory, procStat, sumCpuDelta } from "../lib/procfs.ts";
import { round } from "../lib/report.ts";

// --- CPU accounting ---------------------------------------------------------------------

export interface CpuSnapshot {
  label: string;
  /** ms since the start of the measured window. */
  t: number;
  runtime: Map<number, number>;
  proxy: Map<number, number>;
  wrangler: Map<number, number>;
  sim: number;
  bench: number;
  machine: number;
}

export class CpuMeter {
  private readonly wranglerPid: number;
  private readonly simPid: number;
  runtimePids: number[] = [];
  proxyPids: number[] = [];
  otherPids: number[] = [];

  constructor(wranglerPid: number, simPid: number) {
    this.wranglerPid = wranglerPid;
    this.simPid = simPid;
    this.refresh();
  }

  /** workerd (runtime, proxy) and wrangler's other processes (its Node, esbuild), found by process group. */
  refresh(): void {
    const procs = controlPlaneProcesses(this.wranglerPid);
    this.runtimePids = procs.workerd.filter((p) => p.role === "runtime").map((p) => p.pid);
    this.proxyPids = procs.workerd.filter((p) => p.role === "proxy").map((p) => p.pid);
    this.otherPids = procs.other.map((p) => p.pid);
  }

  snap(label: string, t0: number): CpuSnapshot {
    const own = process.cpuUsage();
    return {
      label,
      t: performance.now() - t0,
      runtime: cpuByPid(this.runtimePids),
      proxy: cpuByPid(this.proxyPids),
      wrangler: cpuByPid(this.otherPids),
      sim: procStat(this.simPid)?.cpuMs ?? 0,
      bench: (own.user + own.system) / 1000,
      machine: machineBusyMs(),
    };
  }
}

export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot) {
  const wall = b.t - a.t;
  const runtime = sumCpuDelta(a.runtime, b.runtime);
  const proxy = sumCpuDelta(a.proxy, b.proxy);
  const wrangler = sumCpuDelta(a.wrangler, b.wrangler);
  const ours = runtime + proxy + wrangler + (b.sim - a.sim) + (b.bench - a.bench);
  return {
    from: a.label,
    to: b.label,
    wallMs: round(wall),
    workerdCpuMs: round(runtime + proxy),
    workerdRuntimeCpuMs: round(runtime),
    workerdProxyCpuMs: round(proxy),
    wranglerNodeCpuMs: round(wrangler),
    simCpuMs: round(b.sim - a.sim),
    benchCpuMs: round(b.bench - a.bench),
    /** What other processes on the machine used meanwhile (tick-rounded): contention. */
    othersCpuMs: round(Math.max(0, b.machine - a.machine - ours)),
    workerdCores: wall > 0 ? round((runtime + proxy) / wall, 2) : null,
  };
}

/**
 * RSS of every workerd wrangler started, looked up afresh (a restarted workerd has a new pid),
 * and the V8 heap of the Worker isolate through the inspector when it answers.
 */
export async function workerdMemory(wranglerPid: number) {
  const all = controlPlaneProcesses(wranglerPid);
  const procs = all.workerd;
  const processes = procs.flatMap((p) => {
    const m = procMemory(p.pid);
    return m ? [{ pid: p.pid, role: p.role, rssMb: round(m.rssMb), hwmMb: round(m.hwmMb) }] : [];
  });
  const sum = (xs: typeof processes, k: "rssMb" | "hwmMb") => round(xs.reduce((n, p) => n + p[k], 0));
  const runtime = processes.filter((p) => p.role === "runtime");
  const heap = await isolateHeap(inspectorPids(all)).catch(() => undefined);
  return {
    rssMb: sum(processes, "rssMb"),
    hwmMb: sum(processes, "hwmMb"),
    runtimeRssMb: sum(runtime, "rssMb"),
    runtimeHwmMb: sum(runtime, "hwmMb"),
    isolateHeapUsedMb: heap ? round(heap.usedMb) : null,
    isolateHeapTotalMb: heap ? round(heap.totalMb) : null,
    processes,
  };
}
