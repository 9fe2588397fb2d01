/**
 * The scale benchmark: one Cluster object with 10,000 simulated agents and 100,000 tasks.
 *
 *   npm run bench -- scale [--agents 10000] [--tasks 100000] [--concurrency 100] [--poll-ms 5000]
 *     [--idle-s 30] [--timeout-s 600] [--via-proxy] [--out bench/results/scale.json] [--wrangler-log FILE]
 *     [--profile [--profile-dir DIR]] [--skip-storm] [--admission PER_SECOND]
 *
 * In one run, on the local stack (`wrangler dev`, fresh state, quotas raised to the run's size):
 * 1. N simulated agents (bench/sim-agents.ts, one Node process) register: the runtime workerd's
 *    CPU per agent (the Worker's upgrade and the Cluster object's register: an upper bound of the
 *    object's own CPU) and the time until the master counts them all active;
 * 2. they idle for --idle-s seconds, pinging at the master's interval: frames per agent per
 *    minute and the runtime's CPU meanwhile (the steady state of the cost model);
 * 3. one Marathon app of M instances: placements per second = M / the time from the POST until
 *    every TASK_RUNNING update is acked (written) by the master, confirmed by GET /v2/apps?id=;
 * 4. the isolate's V8 heap through the inspector (the Worker and the Cluster object share the
 *    isolate locally, so this is an upper bound of the object's heap), sampled after the run;
 * 5. a reset of every object of the cluster, as a deploy does, and the reconnect storm back
 *    (bench/scale/storm.ts): the time until the master counts every agent active again, and the
 *    p99 of an API call reaching the Cluster object meanwhile.
 * Writes bench/results/scale.json, and bench/results/cost.json from the counts (bench/scale/cost.ts).
 * Agents and API calls go straight to the runtime workerd unless --via-proxy (see runtimeUrl).
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startControlPlane } from "../scripts/lib/control-plane.ts";
import { freePort, waitFor } from "../scripts/lib/processes.ts";
import { Api } from "./lib/api.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { controlPlaneProcesses, cpuByPid, inspectorPids, machineInfo, sumCpuDelta } from "./lib/procfs.ts";
import { round, writeJson } from "./lib/report.ts";
import { type SimEvent, SimAgents } from "./lib/sim.ts";
import { workerdMemory } from "./placement/cpu.ts";
import { errorsLogged, startProfiler, stopProfiler } from "./placement/support.ts";
import { TARGETS, agentsThatFit, log, parseOptions, runtimeUrl, sleep, type Options } from "./scale/common.ts";
import { writeCostModel } from "./scale/cost.ts";
import { placeTasks } from "./scale/place.ts";
import { measureStorm } from "./scale/storm.ts";
import { printTable } from "./scale/report.ts";
import { startSampling, stopSampling } from "./scale/attribution.ts";
import { heapAfter, heapSampler } from "./scale/heap.ts";

export async function run(argv: string[]): Promise<number> {
  const asked = parseOptions(argv);
  const fit = agentsThatFit(asked.agents);
  const opts = { ...asked, agents: fit.agents };
  const startedAt = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-scale-"));
  onCleanup("remove temp dir", () => rmSync(dir, { recursive: true, force: true }));
  const notes: string[] = fit.note ? [fit.note] : [];
  const port = await freePort();
  log(`starting the control plane on 127.0.0.1:${port} (state in ${dir})`);
  const vars: Record<string, string> = { QUOTA_AGENTS: String(opts.agents), QUOTA_INSTANCES: String(opts.tasks), DCX_TEST_HOOKS: "on" };
  if (opts.admissionPerSecond !== undefined) vars.AGENT_ADMISSION_PER_SECOND = String(opts.admissionPerSecond);
  const wranglerLog = opts.wranglerLog;
  const onLine = wranglerLog ? (line: string) => appendFileSync(wranglerLog, `${line}\n`) : undefined;
  const cp = await startControlPlane({ port, persistDir: join(dir, "state"), logLevel: "error", vars, onLine });
  onCleanup("stop the control plane", () => cp.stop());
  const wranglerPid = cp.child.proc.pid ?? -1;
  const runtimePids = () =>
    controlPlaneProcesses(wranglerPid)
      .workerd.filter((p) => p.role === "runtime")
      .map((p) => p.pid);
  const proxyPids = () => inspectorPids(controlPlaneProcesses(wranglerPid));
  const direct = opts.viaProxy ? undefined : await runtimeUrl(runtimePids());
  if (!opts.viaProxy && !direct) notes.push("the runtime workerd's own port was not found: agents and API calls went through wrangler's proxy");
  const base = direct ?? cp.url;
  log(`agents and API calls go to ${base}${direct ? " (the runtime workerd, past wrangler's proxy)" : ""}`);
  if (opts.profile) mkdirSync(opts.profileDir, { recursive: true });
  const profiles: Record<string, unknown> = {};
  const profilePath = (phase: string) => join(opts.profileDir, `scale.${phase}.cpuprofile`);

  const api = new Api(base);
  await api.signUp(`bench-scale-${startedAt}@example.com`);
  const joinToken = await api.joinToken();
  const memIdle = await workerdMemory(wranglerPid);

  // --- 1. registration ---
  const rowsBefore = await api.storageRows();
  const regProfiler = opts.profile ? await startProfiler([...proxyPids(), ...runtimePids()], notes) : undefined;
  // Always sampled (1 ms): the object's share of the isolate's time (the profile above, when asked, is finer).
  const regSampler = regProfiler ? undefined : await startSampling(proxyPids());
  const cpu0 = cpuByPid(runtimePids());
  const simProblems: string[] = [];
  const sim = new SimAgents({
    wsUrl: `${base.replace(/^http/, "ws")}/c/${api.clusterId}/agent/connect`,
    token: joinToken,
    count: opts.agents,
    concurrency: opts.concurrency,
    onEvent: (e: SimEvent) => {
      if (e.event === "progress") log(`agents: ${String(e.registered)}/${opts.agents} registered (${String(e.failed)} failed)`);
      else if (e.event === "closed" || e.event === "master_error") simProblems.push(`${e.event}: ${JSON.stringify(e)}`);
    },
  });
  onCleanup("stop the simulated agents", () => sim.stop());
  const t0 = performance.now();
  const ready = await sim.wait((e) => e.event === "ready", Math.max(120_000, opts.agents * 100), "the simulated agents to register");
  const registered = Number(ready.registered);
  if (registered === 0) throw new Error(`no simulated agent registered:\n${simProblems.join("\n")}\n${sim.output()}`);
  if (registered < opts.agents) notes.push(`only ${registered} of ${opts.agents} simulated agents registered`);
  await waitFor(
    "the master to count the agents active",
    async () => {
      const m = (await api.call<Record<string, number>>("GET", api.c("/metrics/snapshot"))).body;
      return m["master/slaves_active"] === registered ? true : undefined;
    },
    120_000,
    250,
  );
  const allActiveMs = performance.now() - t0;
  const regCpuMs = sumCpuDelta(cpu0, cpuByPid([...cpu0.keys()]));
  if (regProfiler) profiles.registration = await stopProfiler(regProfiler, profilePath("registration"), notes, startedAt);
  const regShare = await stopSampling(regSampler, startedAt);
  if (!regShare) notes.push("registration: the isolate was not sampled (no inspector); registrationCpuMsPerAgent is the whole runtime process's CPU per agent");
  const regStats = await sim.stats();
  const registration = {
    agents: registered,
    failed: Number(ready.failed),
    allRegisteredMs: round(Number(ready.ms)),
    allActiveMs: round(allActiveMs),
    perSecond: round(registered / (allActiveMs / 1000)),
    runtimeCpuMs: round(regCpuMs),
    runtimeCpuMsPerAgent: round(regCpuMs / registered, 3),
    isolateTime: regShare,
    framesFromAgentsPerAgent: round(Number(regStats.framesOut) / registered, 2),
    framesToAgentsPerAgent: round(Number(regStats.framesIn) / registered, 2),
  };
  log(
    `${registered} agents active in ${(allActiveMs / 1000).toFixed(1)} s; runtime CPU ${(regCpuMs / registered).toFixed(2)} ms per agent, the object's share ${regShare?.objectShare ?? "n/a"}`,
  );
  const memAgents = await workerdMemory(wranglerPid);
  const rowsRegistered = await api.storageRows();

  // --- 2. idle: heartbeats only ---
  const idle = await measureIdle(opts, sim, runtimePids(), registered);

  // --- 3. placement ---
  const rowsIdle = await api.storageRows();
  const placeProfiler = opts.profile ? await startProfiler([...proxyPids(), ...runtimePids()], notes) : undefined;
  // The inspector serves one session at a time: the sampler's would end the profiler's.
  const sampler = placeProfiler ? undefined : heapSampler(wranglerPid);
  if (placeProfiler) notes.push("--profile: the heap was not sampled during placement (one inspector session at a time)");
  const placement = await placeTasks(api, sim, opts, runtimePids());
  const heapDuringPlacement = (await sampler?.stop()) ?? { peakUsedMb: null, peakTotalMb: null };
  if (placeProfiler) profiles.placement = await stopProfiler(placeProfiler, profilePath("placement"), notes, startedAt);
  notes.push(...placement.notes);
  const rowsPlaced = await api.storageRows();
  const perItem = (a: { read: number; written: number }, b: { read: number; written: number }, n: number) => ({
    read: round((b.read - a.read) / Math.max(1, n), 2),
    written: round((b.written - a.written) / Math.max(1, n), 2),
  });
  const storageRows = {
    note: "rows the Cluster object's SQLite read and wrote (dcx_storage_rows_total, counted from each statement's cursor), per agent registered and per task placed; Cloudflare bills both",
    perRegistration: perItem(rowsBefore, rowsRegistered, registered),
    perPlacement: perItem(rowsIdle, rowsPlaced, opts.tasks),
    idlePerAgentPerMinute: perItem(rowsRegistered, rowsIdle, (registered * (opts.idleSeconds || 1)) / 60),
  };

  // --- 4. memory ---
  const heap = await heapAfter(wranglerPid);

  // --- 5. reset and the reconnect storm ---
  const stormProfiler = opts.profile && !opts.skipStorm ? await startProfiler([...proxyPids(), ...runtimePids()], notes) : undefined;
  const storm = opts.skipStorm ? undefined : await measureStorm(api, sim, registered, opts.timeoutMs, runtimePids());
  if (stormProfiler) profiles.storm = await stopProfiler(stormProfiler, profilePath("storm"), notes, startedAt);
  if (storm) notes.push(...storm.notes);
  const result = {
    benchmark: "scale",
    timestamp: new Date(startedAt).toISOString(),
    machine: machineInfo(),
    targets: TARGETS,
    agents: registered,
    tasks: opts.tasks,
    registrationCpuMsPerAgent: round((regCpuMs * (regShare?.objectShare ?? 1)) / registered, 3),
    registrationCpuMeasuredBy:
      "the runtime workerd's CPU (/proc) during registration times the Cluster object's share of the isolate's busy samples (V8 profile at 1 ms: frames under control/cluster/ against the Worker's control/ code and unattributed runtime work); registration.runtimeCpuMsPerAgent is the whole process's, an upper bound",
    timeToAllActiveSeconds: round(allActiveMs / 1000, 2),
    stormRecoverySeconds: storm?.stormRecoverySeconds ?? null,
    apiP99MsDuringStorm: storm?.apiP99MsDuringStorm ?? null,
    placementsPerSecond: placement.placementsPerSecond,
    clusterHeapMb: heap.clusterHeapMb,
    clusterHeapPeakMb: heapDuringPlacement.peakUsedMb,
    registration,
    idle,
    placement: placement.detail,
    storageRows,
    storm: storm?.detail ?? null,
    memory: {
      note: "V8's heap of the isolate that runs the Worker and the Cluster object, through wrangler's inspector proxy. clusterHeapMb: used heap after the full GC V8 makes before a heap snapshot (HeapProfiler.takeHeapSnapshot), with every agent connected and every task running: what the object retains. clusterHeapPeakMb: the highest used heap sampled each second during placement, garbage included (Runtime.getHeapUsage). RSS is the whole workerd process (runtime, SQLite page caches, socket buffers).",
      duringPlacement: heapDuringPlacement,
      retainedTotalMb: heap.retainedTotalMb,
      idle: memIdle,
      afterAgents: memAgents,
      afterTasks: heap.memory,
    },
    via: direct ? "runtime workerd port" : "wrangler proxy",
    agentsAsked: asked.agents,
    openFileLimit: fit.fileLimit,
    profiles: opts.profile ? profiles : undefined,
    simAgents: { ...(await sim.stats()), event: undefined, id: undefined, problems: simProblems.slice(0, 10) },
    controlPlaneErrors: [...new Set(errorsLogged(cp.child.output()))].slice(0, 20),
    notes,
    durationS: 0,
  };
  await sim.stop();
  result.durationS = round((Date.now() - startedAt) / 1000);
  writeJson(opts.out, result);
  const costPath = writeCostModel(result, join(dirname(opts.out), "cost.json"));
  printTable(result);
  process.stdout.write(`\nwrote ${opts.out} and ${costPath}\n`);
  return 0;
}

/** The steady state: what N connected, idle agents send and cost the runtime over a while. */
async function measureIdle(opts: Options, sim: SimAgents, runtime: number[], agents: number) {
  if (opts.idleSeconds === 0) return null;
  log(`idle for ${opts.idleSeconds} s (heartbeats only)`);
  const before = await sim.stats();
  const cpu = cpuByPid(runtime);
  const t = performance.now();
  await sleep(opts.idleSeconds * 1000);
  const after = await sim.stats();
  const seconds = (performance.now() - t) / 1000;
  const minutes = seconds / 60;
  const pings = Number(after.pings) - Number(before.pings);
  const framesOut = Number(after.framesOut) - Number(before.framesOut);
  return {
    seconds: round(seconds),
    pingsPerAgentPerMinute: round(pings / agents / minutes, 2),
    // The simulated agents count pings apart from their other frames.
    otherFramesFromAgentsPerAgentPerMinute: round(framesOut / agents / minutes, 3),
    // Less the pongs (one per ping; a few may still be in flight, hence the floor).
    framesToAgentsPerAgentPerMinute: round(Math.max(0, Number(after.framesIn) - Number(before.framesIn) - pings) / agents / minutes, 3),
    runtimeCpuMsPerSecond: round(sumCpuDelta(cpu, cpuByPid([...cpu.keys()])) / seconds, 1),
    note: "pings are answered by the runtime's WebSocket auto-response (the object is not woken); framesToAgents excludes the pongs",
  };
}
