/**
 * The placement benchmark: how fast the Cluster Durable Object places Marathon instances on
 * many agents, and what it costs.
 *
 *   npm run bench -- placement [--agents 1000] [--instances 10000] [--iterations 100]
 *     [--loaded-iterations 30] [--exec-iterations 50] [--concurrency 50] [--poll-ms 20]
 *     [--timeout-s 180] [--out bench/results/placement.json] [--profile [--profile-dir DIR]]
 *
 * Quick run: `npm run bench -- placement --agents 200 --instances 2000`. `--profile` samples
 * the Worker isolate (V8 inspector through wrangler's proxy) during registration, the big run
 * and the loaded latency run, prints the hottest functions (source-mapped) and writes
 * .cpuprofile files (open them in Chrome DevTools) to DIR (default: $TMPDIR/dcx-bench-profiles).
 *
 * "All RUNNING" is the first answer of GET /v2/apps?id=<app> (one request in flight, ~20 ms
 * apart) that counts every instance in tasksRunning; the simulated agents also timestamp the
 * last launch frame and the ack of the last TASK_RUNNING update (a lower bound).
 *
 * 1. the control plane on workerd (`wrangler dev`, fresh temp state, log level error);
 * 2. N simulated agents in a separate Node process (bench/sim-agents.ts), each answering a
 *    launch frame with one status frame of TASK_RUNNING at once;
 * 3. one app of M instances: time from sending the POST until the master reports all M
 *    TASK_RUNNING, with its parts; the CPU time and RSS of workerd;
 * 4. POST → TASK_RUNNING latency of a one-instance app, on the simulated agents (with the big
 *    app still running, then on an otherwise empty cluster) and on one real Bun agent running
 *    `sleep 600` through the exec driver, in a second account's cluster.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane } from "../scripts/lib/control-plane.ts";
import { freePort, waitFor } from "../scripts/lib/processes.ts";
import { Api } from "./lib/api.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { controlPlaneProcesses, cpuByPid, loadAverage, machineInfo, sumCpuDelta } from "./lib/procfs.ts";
import { fmt, percentile, round, writeJson } from "./lib/report.ts";
import { type SimEvent, SimAgents } from "./lib/sim.ts";
import { BASELINE, TARGET_PLACEMENTS_PER_SECOND, epochNow, log, parseOptions, sleep } from "./placement/common.ts";
import { CpuMeter, cpuDelta, workerdMemory, type CpuSnapshot } from "./placement/cpu.ts";
import { execLatency, postToRunning, summary, waitDeploymentGone, type Stream } from "./placement/latency.ts";
import { printTable } from "./placement/report.ts";
import { errorsLogged, killProcessesUnder, startProfiler, stopProfiler } from "./placement/support.ts";

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  const startedAt = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-placement-"));
  onCleanup("remove temp dir", () => rmSync(dir, { recursive: true, force: true }));
  // Any task process a real agent left behind runs in a sandbox under `dir`.
  onCleanup("kill leftover task processes", () => killProcessesUnder(dir));
  const notes: string[] = [];
  const result: Record<string, unknown> = {
    benchmark: "placement",
    timestamp: new Date(startedAt).toISOString(),
    agents: opts.agents,
    instances: opts.instances,
    machine: machineInfo(),
    baseline: BASELINE,
    targetPlacementsPerSecond: TARGET_PLACEMENTS_PER_SECOND,
  };

  const port = await freePort();
  log(`starting the control plane on 127.0.0.1:${port} (state in ${dir})`);
  const cp = await startControlPlane({ port, persistDir: join(dir, "state"), logLevel: "error" });
  onCleanup("stop the control plane", () => cp.stop());
  const wranglerPid = cp.child.proc.pid ?? -1;
  const cpProcs = controlPlaneProcesses(wranglerPid);
  log(
    `wrangler pid ${wranglerPid}; workerd ${cpProcs.workerd.map((p) => `${p.pid}(${p.role})`).join(", ") || "none found"}; others ${cpProcs.other.map((p) => `${p.pid}(${p.comm})`).join(", ")}`,
  );
  if (cpProcs.workerd.length === 0) notes.push("no workerd process found in wrangler's process group: CPU and RSS figures are missing");
  const memIdle = await workerdMemory(wranglerPid);
  // --profile: the Worker isolate's CPU profile of each measured phase, written to --profile-dir.
  const profiles: Record<string, unknown> = {};
  if (opts.profile) result.profiles = profiles;
  // Profiles are megabytes each: kept out of the tree (bench/results is committed).
  const profilePath = (phase: string) => join(opts.profileDir, `placement.${phase}.cpuprofile`);
  if (opts.profile) mkdirSync(opts.profileDir, { recursive: true });
  const workerdPids = () => {
    const w = controlPlaneProcesses(wranglerPid).workerd;
    return [...w.filter((p) => p.role === "proxy"), ...w.filter((p) => p.role === "runtime")].map((p) => p.pid);
  };
  /** Errors wrangler logged (log level error): uncaught exceptions of the Worker or the DO. */
  const controlPlaneErrors = () => errorsLogged(cp.child.output());

  const api = new Api(cp.url);
  await api.signUp(`bench-placement-${startedAt}@example.com`);
  const joinToken = await api.joinToken();

  // --- simulated agents ---
  const regProfiler = opts.profile ? await startProfiler(workerdPids(), notes) : undefined;
  const regCpuBefore = cpuByPid(workerdPids());
  const wsUrl = `${cp.url.replace(/^http/, "ws")}/c/${api.clusterId}/agent/connect`;
  const simProblems: string[] = [];
  let onAgentLost: (() => void) | undefined;
  const sim = new SimAgents({
    wsUrl,
    token: joinToken,
    count: opts.agents,
    concurrency: opts.concurrency,
    onEvent: (e: SimEvent) => {
      if (e.event === "progress") log(`agents: ${String(e.registered)}/${opts.agents} registered (${String(e.failed)} failed)`);
      else if (e.event === "closed" || e.event === "master_error") {
        const text = `${e.event}: ${JSON.stringify(e)}`;
        simProblems.push(text);
        log(text);
        if (e.event === "closed" && e.registered === true) onAgentLost?.();
      }
    },
  });
  onCleanup("stop the simulated agents", () => sim.stop());
  log(`connecting ${opts.agents} simulated agents (pid ${sim.pid}, ${opts.concurrency} at a time)`);
  const ready = await sim.wait((e) => e.event === "ready", Math.max(120_000, opts.agents * 200), "the simulated agents to register");
  const regCpuMs = sumCpuDelta(regCpuBefore, cpuByPid([...regCpuBefore.keys()]));
  if (regProfiler) profiles.registration = await stopProfiler(regProfiler, profilePath("registration"), notes, startedAt);
  const registeredAgents = Number(ready.registered);
  log(`${registeredAgents} agents registered in ${fmt(Number(ready.ms) / 1000, 1)} s (${String(ready.failed)} failed)`);
  if (registeredAgents === 0) throw new Error(`no simulated agent registered:\n${simProblems.join("\n")}\n${sim.output()}`);
  if (registeredAgents < opts.agents) notes.push(`only ${registeredAgents} of ${opts.agents} simulated agents registered`);
  const active = await waitFor(
    "the master to count the agents active",
    async () => {
      const m = (await api.call<Record<string, number>>("GET", api.c("/metrics/snapshot"))).body;
      return m["master/slaves_active"] === registeredAgents ? m["master/slaves_active"] : undefined;
    },
    30_000,
    200,
  );
  result.registration = {
    agents: registeredAgents,
    failed: Number(ready.failed),
    ms: round(Number(ready.ms)),
    perSecond: round(registeredAgents / (Number(ready.ms) / 1000)),
    workerdCpuMs: round(regCpuMs),
    workerdCpuMsPerAgent: round(regCpuMs / Math.max(1, registeredAgents), 2),
    slavesActive: active,
  };
  const meter = new CpuMeter(wranglerPid, sim.pid);
  const memAgents = await workerdMemory(wranglerPid);

  // --- M instances at once ---
  const appId = "/bench/placement";
  const instances = opts.instances;
  log(`POST ${appId} with ${instances} instances over ${registeredAgents} agents`);
  const markId = await sim.mark(instances);
  // The run stops early when it cannot finish: the POST fails, or agents lose their sockets.
  let abortRun: (why: string) => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    abortRun = (why) => reject(new Error(why));
  });
  aborted.catch(() => undefined);
  let abortReason = "";
  const abort = (why: string) => {
    if (abortReason) return;
    abortReason = why;
    abortRun(why);
  };
  onAgentLost = () => abort("simulated agents lost their sockets during the run (the Cluster object may have been reset)");
  const orAbort = <T>(p: Promise<T>) => Promise.race([p, aborted]);
  const profiler = opts.profile ? await startProfiler(workerdPids(), notes) : undefined;
  const snaps: CpuSnapshot[] = [];
  const loadBefore = loadAverage();
  const t0 = performance.now();
  const epoch0 = epochNow();
  snaps.push(meter.snap("POST sent", t0));
  const deadline = t0 + opts.timeoutMs;
  const since = (ms: number) => round(ms - t0, 1);

  const postP = api
    .call<unknown>(
      "POST",
      api.c("/v2/apps"),
      {
        id: appId,
        cmd: "sleep 600",
        cpus: 0.01,
        mem: 1,
        disk: 0,
        instances,
        portDefinitions: [],
      },
      true,
    )
    .then(
      (r) => {
        snaps.push(meter.snap("POST response", t0));
        if (r.status !== 201) {
          abort(`POST /v2/apps -> ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
          throw new Error(`POST /v2/apps -> ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
        }
        return r;
      },
      (err: unknown) => {
        abort(`POST /v2/apps failed: ${String(err)}`);
        throw err;
      },
    );
  const launchedP = orAbort(sim.wait((e) => e.event === "launched" && e.id === markId, opts.timeoutMs, "all launch frames")).then((e) => {
    snaps.push(meter.snap("all launch frames at sim", t0));
    return e;
  });
  const ackedP = orAbort(sim.wait((e) => e.event === "acked" && e.id === markId, opts.timeoutMs, "all RUNNING updates acked")).then((e) => {
    snaps.push(meter.snap("all RUNNING acked at sim", t0));
    return e;
  });
  // The master's own count: GET /v2/apps?id= (no embedded tasks; /v2/apps/{id} embeds all of them).
  const progress: { t: number; running: number; staged: number }[] = [];
  const pollTimes: number[] = [];
  const pollP = (async () => {
    while (performance.now() < deadline && !abortReason) {
      const r = await api.call<{ apps: { id: string; tasksRunning: number; tasksStaged: number }[] }>("GET", api.c(`/v2/apps?id=${encodeURIComponent(appId)}`));
      pollTimes.push(r.doneAt - r.sentAt);
      const app = r.body.apps.find((a) => a.id === appId);
      if (app) progress.push({ t: since(r.doneAt), running: app.tasksRunning, staged: app.tasksStaged });
      if (app && app.tasksRunning >= instances) {
        snaps.push(meter.snap("all RUNNING seen by poll", t0));
        return r.doneAt;
      }
      await sleep(opts.pollMs);
    }
    throw new Error(
      `${abortReason ? "stopped" : `after ${opts.timeoutMs / 1000} s`}: the master counted ${progress.at(-1)?.running ?? 0} of ${instances} tasks running`,
    );
  })();
  const [post, launched, acked, polled] = await Promise.allSettled([postP, launchedP, ackedP, pollP]);
  const failures = [
    ...new Set(
      [post, launched, acked, polled].flatMap((s) => (s.status === "rejected" ? [String(s.reason instanceof Error ? s.reason.message : s.reason)] : [])),
    ),
  ];
  onAgentLost = undefined;
  if (profiler) profiles.placement = await stopProfiler(profiler, profilePath("placement"), notes, startedAt);
  const simAfter = await sim.stats();
  const memTasks = await workerdMemory(wranglerPid);
  const metrics = (await api.call<Record<string, number>>("GET", api.c("/metrics/snapshot"), undefined, true)).body;

  snaps.sort((a, b) => a.t - b.t);
  const first = snaps[0] as CpuSnapshot;
  const last = snaps.at(-1) as CpuSnapshot;
  const whole = cpuDelta(first, last);
  const allRunningMs = polled.status === "fulfilled" ? polled.value - t0 : null;
  const at = (pct: number) => progress.find((p) => p.running >= (instances * pct) / 100)?.t ?? null;
  const phases = {
    postResponseMs: post.status === "fulfilled" ? round(post.value.doneAt - t0) : null,
    firstLaunchFrameMs: Number(simAfter.firstLaunchAt) ? round(Number(simAfter.firstLaunchAt) - epoch0) : null,
    allLaunchFramesMs: launched.status === "fulfilled" ? round(Number(launched.value.at) - epoch0) : null,
    launchFrames: Number(simAfter.launchFrames),
    launchTasks: Number(simAfter.launchTasks),
    allRunningAckedMs: acked.status === "fulfilled" ? round(Number(acked.value.at) - epoch0) : null,
    statusFrames: Number(simAfter.statusFrames),
    ackFrames: Number(simAfter.ackFrames),
    allRunningMs: allRunningMs === null ? null : round(allRunningMs),
    running10PctMs: at(10),
    running50PctMs: at(50),
    running90PctMs: at(90),
    polls: pollTimes.length,
    pollP50Ms: round(percentile(pollTimes, 50), 2),
    pollMaxMs: round(percentile(pollTimes, 100), 2),
    measuredBy:
      `all RUNNING = the first GET /v2/apps?id=<app> answer (one request in flight, ~${opts.pollMs} ms apart) with tasksRunning = instances; ` +
      "GET /v2/apps/{id} would embed every task in every answer. allRunningAckedMs = when the simulated agents held an ack for every TASK_RUNNING update " +
      "(the master writes an update before it acks it, so this is a lower bound of the same moment).",
  };
  const placementsPerSecond = allRunningMs ? round(instances / (allRunningMs / 1000)) : null;
  const complete = failures.length === 0 && allRunningMs !== null;
  Object.assign(result, {
    placementsPerSecond,
    belowTarget: placementsPerSecond === null || placementsPerSecond < TARGET_PLACEMENTS_PER_SECOND,
    placementsPerSecondByAck: phases.allRunningAckedMs ? round(instances / (phases.allRunningAckedMs / 1000)) : null,
    phases,
    doCpuMsPerPlacement: complete ? round(whole.workerdCpuMs / instances, 4) : null,
    doCpuMsPerPlacementRuntimeOnly: complete ? round(whole.workerdRuntimeCpuMs / instances, 4) : null,
    cpu: {
      note:
        "utime+stime from /proc/<pid>/stat between 'POST sent' and 'all RUNNING seen by poll'. workerd = both workerd processes wrangler starts: " +
        "the runtime (the Worker: routing, auth against D1, the POST and the /v2/apps polls; and the Cluster DO: allocation, SQLite, WebSocket dispatch) " +
        "and wrangler's proxy worker (forwards HTTP and WebSocket frames from the dev port). 'wrangler node' is wrangler's own Node process.",
      whole,
      loadAverage1mBefore: loadBefore,
      othersNote: "othersCpuMs = machine busy time (/proc/stat) minus the processes above: other work on this machine competing for the 2 cores",
      byPhase: snaps.slice(1).map((s, i) => cpuDelta(snaps[i] as CpuSnapshot, s)),
      pids: { runtime: meter.runtimePids, proxy: meter.proxyPids, other: meter.otherPids, sim: sim.pid },
    },
    workerdRssMb: memTasks.rssMb,
    workerdRuntimeRssMb: memTasks.runtimeRssMb,
    workerIsolateHeapMb: memTasks.isolateHeapUsedMb,
    memory: {
      note:
        "VmRSS of the workerd processes wrangler started (workerdRssMb: both; runtime: the one running the Worker and the Cluster DO). It holds the runtime itself, " +
        "the V8 heaps of the Worker and DO isolates, SQLite page caches of D1 and the DO, per-socket buffers (wrangler's proxy holds a second copy of every agent socket): " +
        "an upper bound of the DO heap, not the heap itself. isolateHeapUsedMb is the V8 heap of the Worker isolate, which the Cluster DO shares with the Worker " +
        "(Runtime.getHeapUsage through wrangler's inspector proxy, no forced GC): the figure the 128 MB budget is about.",
      idle: memIdle,
      afterAgents: memAgents,
      afterTasks: memTasks,
      simAgentsRssMb: round(Number(simAfter.rssMb)),
    },
    masterMetricsAfter: {
      slavesActive: metrics["master/slaves_active"] ?? null,
      tasksRunning: metrics["master/tasks_running"] ?? null,
      tasksStaging: metrics["master/tasks_staging"] ?? null,
      droppedMessages: metrics["master/dropped_messages"] ?? null,
    },
  });
  if (!complete) {
    notes.push(...failures.map((f) => `${instances}-instance run: ${f}`));
    log(`the ${instances}-instance run did not complete: ${failures.join("; ")}`);
  } else {
    log(`${instances} RUNNING after ${fmt(allRunningMs, 0)} ms: ${fmt(placementsPerSecond, 0)} placements/s`);
  }
  const runtimeNow = controlPlaneProcesses(wranglerPid)
    .workerd.filter((p) => p.role === "runtime")
    .map((p) => p.pid);
  if (runtimeNow.join() !== meter.runtimePids.join()) {
    notes.push(
      `the workerd runtime changed pid during the run (${meter.runtimePids.join()} -> ${runtimeNow.join()}): wrangler reloaded it (a source file changed?); CPU figures are incomplete`,
    );
  }
  const errorsSoFar = controlPlaneErrors();
  if (errorsSoFar.length) notes.push(...[...new Set(errorsSoFar)].slice(0, 5).map((e) => `control plane logged: ${e}`));

  // The simulated agents still connected decide what can be measured next.
  const simUsable = async () => {
    const s = await sim.stats();
    if (Number(s.open) < registeredAgents)
      notes.push(`${registeredAgents - Number(s.open)} simulated agents lost their sockets; later figures use the ${String(s.open)} left`);
    return Number(s.open) > 0;
  };

  // --- POST → RUNNING latency on the simulated agents ---
  const app1 = { cmd: "sleep 600", cpus: 0.01, mem: 1, disk: 0, instances: 1, portDefinitions: [] };
  const EVENT_TYPES = ["status_update_event", "deployment_success"];
  const stream: Stream = {
    current: await api.events(EVENT_TYPES),
    reopen: async () => {
      // A reloaded control plane drops the simulated agents too, and they do not reconnect.
      if (!(await simUsable())) throw new Error("the simulated agents lost their sockets");
      return api.events(EVENT_TYPES);
    },
  };
  onCleanup("close the event stream", () => stream.current.close());
  if (opts.loadedIterations > 0 && complete) {
    log(`POST → RUNNING on the simulated agents with ${instances} tasks running, ${opts.loadedIterations} times`);
    const loadedProfiler = opts.profile ? await startProfiler(workerdPids(), notes) : undefined;
    try {
      const r = await postToRunning(api, stream, opts.loadedIterations, "/bench/loaded", app1, sim, 30_000);
      result.postToRunningLoaded = { ...summary(r), tasksRunningMeanwhile: instances };
      if (r.interruptions.length)
        notes.push(`latency with ${instances} tasks running: ${r.interruptions.length} iteration(s) redone after the control plane broke off`);
      if (loadedProfiler) profiles.loaded = await stopProfiler(loadedProfiler, profilePath("loaded"), notes, startedAt);
    } catch (err) {
      loadedProfiler?.close();
      notes.push(`latency with ${instances} tasks running: ${String(err)}`);
      log(`latency with ${instances} tasks running failed: ${String(err)}`);
    }
  }

  // --- teardown of the big app (also measured) ---
  const toKill = Number(simAfter.launchTasks);
  log(`DELETE ${appId}`);
  const killMark = await sim.mark(toKill);
  const d0 = performance.now();
  const killEpoch = epochNow();
  let del = await api.call<unknown>("DELETE", api.c(`/v2/apps${appId}`), undefined, true);
  if (del.status === 409) del = await api.call<unknown>("DELETE", api.c(`/v2/apps${appId}?force=true`), undefined, true);
  if (del.status < 400 && toKill > 0) {
    const killed = await sim
      .wait((e) => e.event === "killed" && e.id === killMark, opts.timeoutMs, "all TASK_KILLED acked")
      .catch((err: unknown) => {
        notes.push(`teardown: ${String(err)}`);
        return undefined;
      });
    const delDeployment = del.headers.get("Marathon-Deployment-Id");
    if (delDeployment) await waitDeploymentGone(api, delDeployment, opts.timeoutMs).catch((err: unknown) => notes.push(`teardown: ${String(err)}`));
    result.teardown = {
      tasks: toKill,
      deleteResponseMs: round(del.doneAt - d0),
      allKilledAckedMs: killed ? round(Number(killed.at) - killEpoch) : null,
      deploymentDoneMs: round(performance.now() - d0),
    };
    log(`torn down in ${fmt(performance.now() - d0, 0)} ms`);
  } else {
    result.teardown = { tasks: toKill, skipped: `DELETE ${appId} -> ${del.status}` };
  }

  // --- POST → RUNNING latency on an otherwise empty cluster ---
  if (opts.iterations > 0 && (await simUsable())) {
    log(`POST → RUNNING on the simulated agents, ${opts.iterations} times`);
    try {
      const r = await postToRunning(api, stream, opts.iterations, "/bench/latency", app1, sim, 30_000);
      const s = summary(r);
      if (r.interruptions.length) notes.push(`latency: ${r.interruptions.length} iteration(s) redone after the control plane broke off`);
      Object.assign(result, { postToRunningP50Ms: s?.p50Ms ?? null, postToRunningP99Ms: s?.p99Ms ?? null, postToRunning: s });
    } catch (err) {
      notes.push(`latency: ${String(err)}`);
      log(`latency failed: ${String(err)}`);
    }
  }
  result.postToRunningP50Ms ??= null;
  result.postToRunningP99Ms ??= null;
  stream.current.close();
  result.simAgents = { ...(await sim.stats()), event: undefined, id: undefined, problems: simProblems.slice(0, 10) };
  await sim.stop();
  (result.memory as Record<string, unknown>).end = await workerdMemory(wranglerPid);

  // --- POST → RUNNING with one real Bun agent (exec driver) ---
  if (opts.execIterations > 0) result.exec = await execLatency(cp.url, dir, opts.execIterations, startedAt);
  const exec = result.exec as { p50Ms?: number | null; p99Ms?: number | null; error?: string } | undefined;
  result.postToRunningExecP50Ms = exec?.p50Ms ?? null;
  result.postToRunningExecP99Ms = exec?.p99Ms ?? null;
  if (exec?.error) notes.push(`exec: ${exec.error}`);
  const execInterruptions = (result.exec as { interruptions?: string[] } | undefined)?.interruptions ?? [];
  if (execInterruptions.length)
    notes.push(`exec: ${execInterruptions.length} iteration(s) redone after the control plane broke off: ${execInterruptions.join("; ")}`);

  const errors = [...new Set(controlPlaneErrors())];
  result.controlPlaneErrors = errors.slice(0, 20);
  for (const e of errors) if (!errorsSoFar.includes(e)) notes.push(`control plane logged: ${e}`);
  result.notes = notes;
  result.durationS = round((Date.now() - startedAt) / 1000);
  writeJson(opts.out, result);
  printTable(result, opts);
  process.stdout.write(`\nwrote ${opts.out}\n`);
  return 0;
}
