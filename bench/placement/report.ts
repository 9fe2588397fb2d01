/** The placement benchmark's table. */
import { fmt, table, type Row } from "../lib/report.ts";
import { BASELINE, DO_MEMORY_BUDGET_MB, TARGET_PLACEMENTS_PER_SECOND, type Options } from "./common.ts";
import type { cpuDelta } from "./cpu.ts";

export function printTable(r: Record<string, unknown>, opts: Options): void {
  const ph = (r.phases ?? {}) as Record<string, number | null>;
  const cpu = ((r.cpu as { whole?: Record<string, number> } | undefined)?.whole ?? {}) as Record<string, number>;
  const mem = (r.memory ?? {}) as Record<string, { rssMb: number; hwmMb: number; runtimeRssMb: number } | undefined>;
  const loaded = r.postToRunningLoaded as Record<string, number | null> | undefined;
  const lat = r.postToRunning as Record<string, number | null> | undefined;
  const exec = r.exec as Record<string, unknown> | undefined;
  const td = (r.teardown ?? {}) as Record<string, number | string | null>;
  const reg = (r.registration ?? {}) as Record<string, number>;
  const pps = r.placementsPerSecond as number | null;
  const rss = r.workerdRssMb as number;
  const rows: Row[] = [
    {
      name: "agents registered",
      value: fmt(reg.agents, 0),
      note: `${fmt(reg.ms / 1000, 1)} s, ${fmt(reg.perSecond, 0)}/s, ${fmt(reg.failed, 0)} failed; workerd ${fmt(reg.workerdCpuMsPerAgent, 1)} ms CPU per agent`,
    },
    { name: "instances", value: fmt(opts.instances, 0) },
    {
      name: "placementsPerSecond",
      value: fmt(pps, 0),
      note:
        pps !== null && pps >= TARGET_PLACEMENTS_PER_SECOND
          ? `target >= ${TARGET_PLACEMENTS_PER_SECOND}: met`
          : `BELOW TARGET (>= ${TARGET_PLACEMENTS_PER_SECOND}/s)`,
    },
    { name: "  POST response", value: fmt(ph.postResponseMs, 0, " ms"), note: "201 received in full" },
    { name: "  first launch frame at sim", value: fmt(ph.firstLaunchFrameMs, 0, " ms") },
    {
      name: "  all launch frames at sim",
      value: fmt(ph.allLaunchFramesMs, 0, " ms"),
      note: `${fmt(ph.launchFrames, 0)} frames, ${fmt(ph.launchTasks, 0)} tasks`,
    },
    { name: "  all RUNNING acked at sim", value: fmt(ph.allRunningAckedMs, 0, " ms"), note: `${fmt(ph.statusFrames, 0)} status frames; lower bound` },
    {
      name: "  all RUNNING (poll)",
      value: fmt(ph.allRunningMs, 0, " ms"),
      note: `GET /v2/apps?id= every ${opts.pollMs} ms: ${fmt(ph.polls, 0)} polls, slowest answer ${fmt(ph.pollMaxMs, 0)} ms`,
    },
    { name: "  10/50/90% RUNNING (poll)", value: `${fmt(ph.running10PctMs, 0)}/${fmt(ph.running50PctMs, 0)}/${fmt(ph.running90PctMs, 0)} ms` },
    {
      name: "doCpuMsPerPlacement",
      value: fmt(r.doCpuMsPerPlacement as number, 3, " ms"),
      note: `workerd utime+stime / instances; includes the Worker, HTTP and wrangler's proxy (runtime alone ${fmt(r.doCpuMsPerPlacementRuntimeOnly as number, 3)} ms)`,
    },
    {
      name: "  workerd CPU (window)",
      value: fmt(cpu.workerdCpuMs, 0, " ms"),
      note: `runtime ${fmt(cpu.workerdRuntimeCpuMs, 0)} + proxy ${fmt(cpu.workerdProxyCpuMs, 0)} ms; ${fmt(cpu.workerdCores, 2)} cores busy over ${fmt(cpu.wallMs, 0)} ms`,
    },
    { name: "  wrangler node CPU", value: fmt(cpu.wranglerNodeCpuMs, 0, " ms") },
    { name: "  sim agents CPU", value: fmt(cpu.simCpuMs, 0, " ms"), note: "the simulated agents' process" },
    { name: "  bench CPU", value: fmt(cpu.benchCpuMs, 0, " ms"), note: "this process: POST, polls" },
    {
      name: "  other processes CPU",
      value: fmt(cpu.othersCpuMs, 0, " ms"),
      note: cpu.othersCpuMs > 0.2 * cpu.wallMs ? "CONTENDED: other work ran on this machine during the run" : "machine otherwise quiet",
    },
    {
      name: "Worker isolate V8 heap",
      value: fmt(r.workerIsolateHeapMb as number, 1, " MB"),
      note: `the DO shares it with the Worker; budget ${DO_MEMORY_BUDGET_MB} MB${(r.workerIsolateHeapMb as number) > DO_MEMORY_BUDGET_MB ? ": OVER BUDGET" : ""}; idle ${fmt((mem.idle as { isolateHeapUsedMb?: number } | undefined)?.isolateHeapUsedMb, 1)}, +agents ${fmt((mem.afterAgents as { isolateHeapUsedMb?: number } | undefined)?.isolateHeapUsedMb, 1)} MB`,
    },
    {
      name: "workerdRssMb",
      value: fmt(rss, 1, " MB"),
      note: `after agents + tasks, both workerd; runtime alone ${fmt(r.workerdRuntimeRssMb as number, 0)} MB; idle ${fmt(mem.idle?.rssMb, 0)}, +agents ${fmt(mem.afterAgents?.rssMb, 0)}, peak ${fmt(mem.afterTasks?.hwmMb, 0)} MB${rss > DO_MEMORY_BUDGET_MB ? ` (RSS is an upper bound of the DO heap: see the heap row)` : ""}`,
    },
    {
      name: "postToRunningP50Ms",
      value: fmt(r.postToRunningP50Ms as number, 1, " ms"),
      note: lat
        ? `sim, empty cluster, n=${lat.iterations}; launch frame p50 ${fmt(lat.launchFrameReceivedP50Ms, 1)} ms, POST answer p50 ${fmt(lat.postResponseP50Ms, 1)} ms`
        : "",
    },
    { name: "postToRunningP99Ms", value: fmt(r.postToRunningP99Ms as number, 1, " ms"), note: lat ? `max ${fmt(lat.maxMs, 1)} ms` : "" },
    ...(loaded
      ? [
          {
            name: "  with tasks running p50/p99",
            value: `${fmt(loaded.p50Ms, 1)}/${fmt(loaded.p99Ms, 1)} ms`,
            note: `${fmt(opts.instances, 0)} tasks running, n=${loaded.iterations}`,
          },
        ]
      : []),
    {
      name: "postToRunningExecP50Ms",
      value: fmt(r.postToRunningExecP50Ms as number, 1, " ms"),
      note: exec?.error ? `FAILED: ${String(exec.error).slice(0, 160)}` : exec ? `one Bun agent, sleep 600, n=${String(exec.iterations)}` : "skipped",
    },
    { name: "postToRunningExecP99Ms", value: fmt(r.postToRunningExecP99Ms as number, 1, " ms") },
    {
      name: "teardown (DELETE all)",
      value: fmt(td.deploymentDoneMs as number, 0, " ms"),
      note: td.skipped
        ? String(td.skipped)
        : `${fmt(td.tasks as number, 0)} tasks; DELETE answered at ${fmt(td.deleteResponseMs as number, 0)} ms, all TASK_KILLED acked at ${fmt(td.allKilledAckedMs as number, 0)} ms`,
    },
  ];
  const m = r.machine as { nproc: number; cpuModel: string };
  process.stdout.write(
    "\n" + table(`placement: ${fmt(opts.agents, 0)} simulated agents, ${fmt(opts.instances, 0)} instances; ${m.nproc} cores, ${m.cpuModel}`, rows) + "\n",
  );
  const byPhase = ((r.cpu as { byPhase?: ReturnType<typeof cpuDelta>[] } | undefined)?.byPhase ?? []).filter((p) => p.wallMs > 0);
  if (byPhase.length) {
    process.stdout.write(
      "\nCPU ms between milestones (as the bench saw them): wall | workerd runtime | workerd proxy | wrangler node | sim agents | bench | others\n",
    );
    for (const p of byPhase) {
      process.stdout.write(
        `  ${`${p.from} -> ${p.to}`.padEnd(56)} ${fmt(p.wallMs, 0).padStart(7)} | ${fmt(p.workerdRuntimeCpuMs, 0).padStart(6)} | ${fmt(p.workerdProxyCpuMs, 0).padStart(6)} | ${fmt(p.wranglerNodeCpuMs, 0).padStart(6)} | ${fmt(p.simCpuMs, 0).padStart(6)} | ${fmt(p.benchCpuMs, 0).padStart(6)} | ${fmt(p.othersCpuMs, 0).padStart(6)}\n`,
      );
    }
  }
  type Hot = { name: string; location: string; selfMs: number; totalMs: number };
  const profs = (r.profiles ?? {}) as Record<string, { sampledMs: number; idleMs: number; file: string; topSelf: Hot[]; topTotal: Hot[] } | undefined>;
  for (const [phase, prof] of Object.entries(profs)) {
    if (!prof) continue;
    process.stdout.write(
      `\nWorker isolate profile, ${phase} (${fmt(prof.sampledMs, 0)} ms sampled, ${fmt(prof.idleMs, 0)} ms idle; ${prof.file}):\n  self ms  total ms  function\n`,
    );
    for (const f of prof.topSelf.slice(0, 12))
      process.stdout.write(`  ${fmt(f.selfMs, 0).padStart(7)}  ${fmt(f.totalMs, 0).padStart(8)}  ${f.name} ${f.location}\n`);
    process.stdout.write("  by inclusive time:\n");
    for (const f of prof.topTotal.slice(0, 18))
      process.stdout.write(`  ${fmt(f.selfMs, 0).padStart(7)}  ${fmt(f.totalMs, 0).padStart(8)}  ${f.name} ${f.location}\n`);
  }
  process.stdout.write(`baseline: ${BASELINE}\n`);
  const notes = r.notes as string[];
  if (notes.length) process.stdout.write(`notes:\n${notes.map((n) => `  - ${n}`).join("\n")}\n`);
}
