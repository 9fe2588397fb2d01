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
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AgentProcess, startAgent } from "../scripts/lib/agent-process.ts";
import { ROOT, startControlPlane } from "../scripts/lib/control-plane.ts";
import { freePort, waitFor } from "../scripts/lib/processes.ts";
import { Api, type EventStream } from "./lib/api.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { bundleResolver, findWorkerInspector, InspectorProfiler, isolateHeap, summarizeProfile } from "./lib/inspector.ts";
import { controlPlaneProcesses, cpuByPid, loadAverage, machineBusyMs, machineInfo, procMemory, procStat, sumCpuDelta } from "./lib/procfs.ts";
import { fmt, percentile, round, table, writeJson, type Row } from "./lib/report.ts";
import { type SimEvent, SimAgents } from "./lib/sim.ts";

const TARGET_PLACEMENTS_PER_SECOND = 5000;
const DO_MEMORY_BUDGET_MB = 128;
const BASELINE =
  "Nomad C1M (2015) placed 1,000,000 containers at about 3,750 placements/s on 5 servers; DCX targets >= 5,000/s here, on 2 cores, one Durable Object.";

const log = (msg: string) => process.stderr.write(`[placement] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const epochNow = () => performance.timeOrigin + performance.now();

interface Options {
  agents: number;
  instances: number;
  iterations: number;
  loadedIterations: number;
  execIterations: number;
  concurrency: number;
  pollMs: number;
  timeoutMs: number;
  out: string;
  /** Sample the Worker isolate's CPU (V8 inspector) during registration, the big run and the loaded latency run. */
  profile: boolean;
  profileDir: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: "string", default: "1000" },
      instances: { type: "string", default: "10000" },
      iterations: { type: "string", default: "100" },
      "loaded-iterations": { type: "string", default: "30" },
      "exec-iterations": { type: "string", default: "50" },
      concurrency: { type: "string", default: "50" },
      "poll-ms": { type: "string", default: "20" },
      "timeout-s": { type: "string", default: "180" },
      out: { type: "string", default: join(ROOT, "bench", "results", "placement.json") },
      profile: { type: "boolean", default: false },
      "profile-dir": { type: "string", default: join(tmpdir(), "dcx-bench-profiles") },
    },
  });
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw Object.assign(new Error(`--${name} must be an integer >= ${min}, got '${v}'`), { name: "UsageError" });
    return n;
  };
  return {
    agents: int("agents", values.agents, 1),
    instances: int("instances", values.instances, 1),
    iterations: int("iterations", values.iterations, 0),
    loadedIterations: int("loaded-iterations", values["loaded-iterations"], 0),
    execIterations: int("exec-iterations", values["exec-iterations"], 0),
    concurrency: int("concurrency", values.concurrency, 1),
    pollMs: int("poll-ms", values["poll-ms"], 1),
    timeoutMs: int("timeout-s", values["timeout-s"], 1) * 1000,
    out: values.out ?? join(ROOT, "bench", "results", "placement.json"),
    profile: values.profile ?? false,
    profileDir: values["profile-dir"] ?? join(tmpdir(), "dcx-bench-profiles"),
  };
}

// --- CPU accounting ---------------------------------------------------------------------

interface CpuSnapshot {
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

class CpuMeter {
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

function cpuDelta(a: CpuSnapshot, b: CpuSnapshot) {
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
async function workerdMemory(wranglerPid: number) {
  const procs = controlPlaneProcesses(wranglerPid).workerd;
  const processes = procs.flatMap((p) => {
    const m = procMemory(p.pid);
    return m ? [{ pid: p.pid, role: p.role, rssMb: round(m.rssMb), hwmMb: round(m.hwmMb) }] : [];
  });
  const sum = (xs: typeof processes, k: "rssMb" | "hwmMb") => round(xs.reduce((n, p) => n + p[k], 0));
  const runtime = processes.filter((p) => p.role === "runtime");
  const heap = await isolateHeap(procs.filter((p) => p.role === "proxy").map((p) => p.pid)).catch(() => undefined);
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

// --- latency -------------------------------------------------------------------------------

const FAILED_STATES = new Set(["TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_KILLED", "TASK_UNREACHABLE"]);

interface LatencyResult {
  samples: number[];
  postResponse: number[];
  launchReceived: number[];
  deploymentDone: number[];
  deleteDone: number[];
  /** Iterations redone because the event stream or the API broke off (a control plane reload). */
  interruptions: string[];
}

/** A task reached a failure state, or never reached TASK_RUNNING while the event stream stayed up. */
class LaunchFailed extends Error {}

/** The event stream, and how to open it again after the control plane dropped it. */
interface Stream {
  current: EventStream;
  reopen: () => Promise<EventStream>;
}

const MAX_INTERRUPTIONS = 3;

/**
 * POST a one-instance app, wait for its TASK_RUNNING on the event stream opened beforehand,
 * wait for its deployment to end, DELETE it, wait for that deployment to end; `iterations`
 * times. An iteration cut short by the control plane (stream ended, API error) is redone
 * after reopening the stream, at most MAX_INTERRUPTIONS times.
 */
async function postToRunning(
  api: Api,
  stream: Stream,
  iterations: number,
  prefix: string,
  app: Record<string, unknown>,
  sim: SimAgents | undefined,
  timeoutMs: number,
): Promise<LatencyResult> {
  const out: LatencyResult = { samples: [], postResponse: [], launchReceived: [], deploymentDone: [], deleteDone: [], interruptions: [] };
  let attempt = 0;
  for (let i = 0; i < iterations; ) {
    const id = `${prefix}-${i}${attempt ? `-retry${attempt}` : ""}`;
    try {
      await oneLaunch(api, stream.current, id, app, sim, timeoutMs, out);
      i++;
      attempt = 0;
    } catch (err) {
      const streamAlive = stream.current.alive;
      if (err instanceof LaunchFailed && streamAlive) throw err;
      const why = `${id}: ${err instanceof Error ? err.message : String(err)}${streamAlive ? "" : " (the event stream was cut: control plane reloaded?)"}`;
      out.interruptions.push(why);
      log(`interrupted: ${why}`);
      if (out.interruptions.length > MAX_INTERRUPTIONS) throw new Error(`gave up after ${MAX_INTERRUPTIONS} interruptions: ${out.interruptions.join("; ")}`);
      stream.current.close();
      await sleep(1000);
      stream.current = await stream.reopen();
      await api.call("DELETE", api.c(`/v2/apps${id}?force=true`), undefined, true).catch(() => undefined);
      attempt++;
    }
  }
  return out;
}

async function oneLaunch(api: Api, events: EventStream, id: string, app: Record<string, unknown>, sim: SimAgents | undefined, timeoutMs: number, out: LatencyResult): Promise<void> {
  events.drain();
  const markId = sim ? await sim.mark(1) : undefined;
  const running = events.next((e) => e.type === "status_update_event" && e.data.appId === id && e.data.taskStatus === "TASK_RUNNING", timeoutMs);
  const failed = events.next((e) => e.type === "status_update_event" && e.data.appId === id && FAILED_STATES.has(String(e.data.taskStatus)), timeoutMs + 1000);
  running.catch(() => undefined);
  failed.catch(() => undefined);
  const t0 = performance.now();
  const epoch0 = epochNow();
  const post = await api.call<unknown>("POST", api.c("/v2/apps"), { id, ...app });
  const deploymentId = post.headers.get("Marathon-Deployment-Id") ?? "";
  const deployed = events.next((e) => e.type === "deployment_success" && e.data.id === deploymentId, timeoutMs);
  deployed.catch(() => undefined);
  const first = await Promise.race([running.then((e) => ({ ok: true as const, e })), failed.then((e) => ({ ok: false as const, e }))]).catch((err: unknown) => {
    throw new LaunchFailed(`no TASK_RUNNING for ${id} within ${timeoutMs} ms (${String(err instanceof Error ? err.message : err)})`);
  });
  if (!first.ok) throw new LaunchFailed(`${id} reached ${String(first.e.data.taskStatus)} instead of TASK_RUNNING: ${String(first.e.data.message ?? "")}`);
  const launched = sim && markId !== undefined ? await sim.wait((e) => e.event === "launched" && e.id === markId, 5000, "the launch frame").catch(() => undefined) : undefined;
  // A deployment locks its app: Marathon answers a DELETE with 409 until it is done.
  const done = await deployed.catch(() => undefined);
  if (!done) await waitDeploymentGone(api, deploymentId, timeoutMs);
  const deploymentDoneAt = done?.at ?? performance.now();
  const d0 = performance.now();
  const del = await api.call<unknown>("DELETE", api.c(`/v2/apps${id}`));
  const delDeployment = del.headers.get("Marathon-Deployment-Id") ?? "";
  const removed = await events.next((e) => e.type === "deployment_success" && e.data.id === delDeployment, timeoutMs).catch(() => undefined);
  if (!removed) await waitDeploymentGone(api, delDeployment, timeoutMs);
  // Recorded only once the whole iteration went through.
  out.samples.push(first.e.at - t0);
  out.postResponse.push(post.doneAt - t0);
  if (launched) out.launchReceived.push(Number(launched.at) - epoch0);
  out.deploymentDone.push(deploymentDoneAt - t0);
  out.deleteDone.push(performance.now() - d0);
}

async function waitDeploymentGone(api: Api, id: string, timeoutMs: number): Promise<void> {
  await waitFor(`deployment ${id} to end`, async () => {
    const r = await api.call<{ id: string }[]>("GET", api.c("/v2/deployments"));
    return r.body.some((d) => d.id === id) ? undefined : true;
  }, timeoutMs, 20);
}

function summary(r: LatencyResult | undefined) {
  if (!r || r.samples.length === 0) return undefined;
  const p = (xs: number[], q: number) => (xs.length ? round(percentile(xs, q), 2) : null);
  return {
    iterations: r.samples.length,
    p50Ms: p(r.samples, 50),
    p90Ms: p(r.samples, 90),
    p99Ms: p(r.samples, 99),
    minMs: p(r.samples, 0),
    maxMs: p(r.samples, 100),
    meanMs: round(r.samples.reduce((a, b) => a + b, 0) / r.samples.length, 2),
    postResponseP50Ms: p(r.postResponse, 50),
    launchFrameReceivedP50Ms: p(r.launchReceived, 50),
    launchFrameReceivedP99Ms: p(r.launchReceived, 99),
    deploymentDoneP50Ms: p(r.deploymentDone, 50),
    deleteToDeploymentDoneP50Ms: p(r.deleteDone, 50),
    interruptions: r.interruptions,
  };
}

// --- the run -------------------------------------------------------------------------------

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
  log(`wrangler pid ${wranglerPid}; workerd ${cpProcs.workerd.map((p) => `${p.pid}(${p.role})`).join(", ") || "none found"}; others ${cpProcs.other.map((p) => `${p.pid}(${p.comm})`).join(", ")}`);
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
  const active = await waitFor("the master to count the agents active", async () => {
    const m = (await api.call<Record<string, number>>("GET", api.c("/metrics/snapshot"))).body;
    return m["master/slaves_active"] === registeredAgents ? m["master/slaves_active"] : undefined;
  }, 30_000, 200);
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

  const postP = api.call<unknown>("POST", api.c("/v2/apps"), {
    id: appId,
    cmd: "sleep 600",
    cpus: 0.01,
    mem: 1,
    disk: 0,
    instances,
    portDefinitions: [],
  }, true).then((r) => {
    snaps.push(meter.snap("POST response", t0));
    if (r.status !== 201) {
      abort(`POST /v2/apps -> ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
      throw new Error(`POST /v2/apps -> ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    return r;
  }, (err: unknown) => {
    abort(`POST /v2/apps failed: ${String(err)}`);
    throw err;
  });
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
    throw new Error(`${abortReason ? "stopped" : `after ${opts.timeoutMs / 1000} s`}: the master counted ${progress.at(-1)?.running ?? 0} of ${instances} tasks running`);
  })();
  const [post, launched, acked, polled] = await Promise.allSettled([postP, launchedP, ackedP, pollP]);
  const failures = [...new Set([post, launched, acked, polled].flatMap((s) => (s.status === "rejected" ? [String(s.reason instanceof Error ? s.reason.message : s.reason)] : [])))];
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
  const runtimeNow = controlPlaneProcesses(wranglerPid).workerd.filter((p) => p.role === "runtime").map((p) => p.pid);
  if (runtimeNow.join() !== meter.runtimePids.join()) {
    notes.push(`the workerd runtime changed pid during the run (${meter.runtimePids.join()} -> ${runtimeNow.join()}): wrangler reloaded it (a source file changed?); CPU figures are incomplete`);
  }
  const errorsSoFar = controlPlaneErrors();
  if (errorsSoFar.length) notes.push(...[...new Set(errorsSoFar)].slice(0, 5).map((e) => `control plane logged: ${e}`));

  // The simulated agents still connected decide what can be measured next.
  const simUsable = async () => {
    const s = await sim.stats();
    if (Number(s.open) < registeredAgents) notes.push(`${registeredAgents - Number(s.open)} simulated agents lost their sockets; later figures use the ${String(s.open)} left`);
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
      if (r.interruptions.length) notes.push(`latency with ${instances} tasks running: ${r.interruptions.length} iteration(s) redone after the control plane broke off`);
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
    const killed = await sim.wait((e) => e.event === "killed" && e.id === killMark, opts.timeoutMs, "all TASK_KILLED acked").catch((err: unknown) => {
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
  if (execInterruptions.length) notes.push(`exec: ${execInterruptions.length} iteration(s) redone after the control plane broke off: ${execInterruptions.join("; ")}`);

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

/** A second account's cluster with ONE real Bun agent; `sleep 600` through the exec driver. */
async function execLatency(url: string, dir: string, iterations: number, startedAt: number): Promise<Record<string, unknown>> {
  const api = new Api(url);
  let agent: AgentProcess | undefined;
  let stream: Stream | undefined;
  try {
    await api.signUp(`bench-exec-${startedAt}@example.com`);
    const token = await api.joinToken();
    // The agent kills its tasks when stopped, so no `sleep 600` outlives the benchmark.
    process.env.DCX_KILL_TASKS_ON_EXIT = "true";
    agent = startAgent({ master: url, cluster: api.clusterId, token, workDir: join(dir, "exec-agent"), hostname: "bench-exec", backoffMaxMs: 1000 });
    const a = agent;
    const stopAgent = onCleanup("stop the Bun agent", async () => {
      await deleteAllApps(api);
      await a.stop("SIGTERM", 5000);
    });
    const agentActive = () =>
      waitFor("the Bun agent to be active", async () => {
        if (a.proc.exitCode !== null) throw new Error(`the agent exited with ${a.proc.exitCode}`);
        const m = (await api.call<Record<string, number>>("GET", api.c("/metrics/snapshot"))).body;
        return m["master/slaves_active"] === 1 ? true : undefined;
      }, 30_000, 100);
    await agentActive();
    const EVENT_TYPES = ["status_update_event", "deployment_success"];
    // After a control plane reload the agent reconnects by itself (backoff <= 1 s).
    stream = { current: await api.events(EVENT_TYPES), reopen: async () => (await agentActive(), api.events(EVENT_TYPES)) };
    log(`POST → RUNNING on one real Bun agent (exec driver, sleep 600), ${iterations} times`);
    const r = await postToRunning(api, stream, iterations, "/bench/exec", { cmd: "sleep 600", cpus: 0.01, mem: 16, disk: 0, instances: 1, portDefinitions: [] }, undefined, 20_000);
    const s = summary(r);
    const agentMem = procMemory(a.proc.pid ?? -1);
    stream.current.close();
    await stopAgent();
    return { ...s, agentRssMb: agentMem ? round(agentMem.rssMb) : null, error: null };
  } catch (err) {
    stream?.current.close();
    const message = err instanceof Error ? err.message : String(err);
    const tail = agent ? agent.output().split("\n").slice(-15).join("\n") : "";
    const error =
      err instanceof LaunchFailed
        ? `launch on the real Bun agent did not reach TASK_RUNNING (the exec driver may not be finished yet): ${message}`
        : `the exec part failed: ${message}`;
    process.stderr.write(`\n[placement] EXEC FAILED: ${error}\n--- agent output (last lines) ---\n${tail}\n---\n`);
    return { p50Ms: null, p99Ms: null, error, agentLogTail: tail.slice(-4000) };
  }
}

/**
 * The errors wrangler printed (log level error), each with its first frames outside
 * node_modules: `Uncaught Error: … (at insertTasks control/cluster/tasks.ts:48 < …)`.
 */
function errorsLogged(output: string): string[] {
  const lines = output.replace(/\u001b\[[0-9;]*m/g, "").split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /\[ERROR\]\s*(.*)$/.exec(lines[i] ?? "");
    if (!m) continue;
    const frames: string[] = [];
    for (let j = i + 1; j < Math.min(lines.length, i + 30) && frames.length < 4; j++) {
      const line = lines[j] ?? "";
      if (/\[ERROR\]/.test(line)) break;
      const f = /^\s+at (\S+) \(?(?:async )?file:\/\/(\S+?):(\d+):\d+\)?/.exec(line);
      if (f && !f[2]?.includes("node_modules") && !f[2]?.includes(".wrangler")) frames.push(`${f[1]} ${String(f[2]).replace(ROOT, "")}:${f[3]}`);
    }
    out.push(frames.length ? `${m[1]?.trim()} (at ${frames.join(" < ")})` : (m[1]?.trim() ?? ""));
  }
  return out;
}

async function startProfiler(workerdPids: number[], notes: string[]): Promise<InspectorProfiler | undefined> {
  for (const pid of workerdPids) {
    const url = await findWorkerInspector(pid);
    if (!url) continue;
    try {
      const p = await InspectorProfiler.connect(url);
      await p.start(200).catch((err: unknown) => {
        p.close();
        throw err;
      });
      log(`profiling the Worker isolate through ${url}`);
      if (!notes.some((n) => n.startsWith("--profile: the V8"))) notes.push("--profile: the V8 sampling profiler ran during the measured phases; their figures are slower than unprofiled ones");
      return p;
    } catch (err) {
      notes.push(`--profile: ${String(err)}`);
    }
  }
  notes.push("--profile: no inspector of the Worker found on the workerd processes");
  return undefined;
}

async function stopProfiler(p: InspectorProfiler, path: string, notes: string[], startedAtMs: number) {
  try {
    const profile = await p.stop();
    writeJson(path, profile);
    const s = summarizeProfile(profile, ROOT, bundleResolver(ROOT, startedAtMs));
    const top = (k: "selfMs" | "totalMs", n: number) =>
      [...s.functions].sort((a, b) => b[k] - a[k]).slice(0, n).map((f) => ({ name: f.name, location: f.location, selfMs: round(f.selfMs), totalMs: round(f.totalMs) }));
    return { file: path, sampledMs: round(s.sampledMs), idleMs: round(s.idleMs), topSelf: top("selfMs", 30), topTotal: top("totalMs", 40) };
  } catch (err) {
    notes.push(`--profile: ${String(err)}`);
    return undefined;
  } finally {
    p.close();
  }
}

/** Removes every app of a cluster (force), so a real agent kills its tasks before it stops. */
async function deleteAllApps(api: Api): Promise<void> {
  try {
    const apps = (await api.call<{ apps: { id: string }[] }>("GET", api.c("/v2/apps"))).body.apps;
    for (const a of apps) await api.call("DELETE", api.c(`/v2/apps${a.id}?force=true`), undefined, true);
    if (apps.length) await sleep(1000);
  } catch {
    // The control plane may be gone; the agent's own kill-on-exit and the sweep below remain.
  }
}

/** Kills processes whose working directory is under `dir` (task sandboxes of our agents). */
function killProcessesUnder(dir: string): void {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${name}/cwd`);
    } catch {
      continue;
    }
    if (cwd === dir || cwd.startsWith(dir + "/")) {
      try {
        process.kill(Number(name), "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

function printTable(r: Record<string, unknown>, opts: Options): void {
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
    { name: "agents registered", value: fmt(reg.agents, 0), note: `${fmt(reg.ms / 1000, 1)} s, ${fmt(reg.perSecond, 0)}/s, ${fmt(reg.failed, 0)} failed; workerd ${fmt(reg.workerdCpuMsPerAgent, 1)} ms CPU per agent` },
    { name: "instances", value: fmt(opts.instances, 0) },
    {
      name: "placementsPerSecond",
      value: fmt(pps, 0),
      note: pps !== null && pps >= TARGET_PLACEMENTS_PER_SECOND ? `target >= ${TARGET_PLACEMENTS_PER_SECOND}: met` : `BELOW TARGET (>= ${TARGET_PLACEMENTS_PER_SECOND}/s)`,
    },
    { name: "  POST response", value: fmt(ph.postResponseMs, 0, " ms"), note: "201 received in full" },
    { name: "  first launch frame at sim", value: fmt(ph.firstLaunchFrameMs, 0, " ms") },
    { name: "  all launch frames at sim", value: fmt(ph.allLaunchFramesMs, 0, " ms"), note: `${fmt(ph.launchFrames, 0)} frames, ${fmt(ph.launchTasks, 0)} tasks` },
    { name: "  all RUNNING acked at sim", value: fmt(ph.allRunningAckedMs, 0, " ms"), note: `${fmt(ph.statusFrames, 0)} status frames; lower bound` },
    { name: "  all RUNNING (poll)", value: fmt(ph.allRunningMs, 0, " ms"), note: `GET /v2/apps?id= every ${opts.pollMs} ms: ${fmt(ph.polls, 0)} polls, slowest answer ${fmt(ph.pollMaxMs, 0)} ms` },
    { name: "  10/50/90% RUNNING (poll)", value: `${fmt(ph.running10PctMs, 0)}/${fmt(ph.running50PctMs, 0)}/${fmt(ph.running90PctMs, 0)} ms` },
    { name: "doCpuMsPerPlacement", value: fmt(r.doCpuMsPerPlacement as number, 3, " ms"), note: `workerd utime+stime / instances; includes the Worker, HTTP and wrangler's proxy (runtime alone ${fmt(r.doCpuMsPerPlacementRuntimeOnly as number, 3)} ms)` },
    { name: "  workerd CPU (window)", value: fmt(cpu.workerdCpuMs, 0, " ms"), note: `runtime ${fmt(cpu.workerdRuntimeCpuMs, 0)} + proxy ${fmt(cpu.workerdProxyCpuMs, 0)} ms; ${fmt(cpu.workerdCores, 2)} cores busy over ${fmt(cpu.wallMs, 0)} ms` },
    { name: "  wrangler node CPU", value: fmt(cpu.wranglerNodeCpuMs, 0, " ms") },
    { name: "  sim agents CPU", value: fmt(cpu.simCpuMs, 0, " ms"), note: "the simulated agents' process" },
    { name: "  bench CPU", value: fmt(cpu.benchCpuMs, 0, " ms"), note: "this process: POST, polls" },
    { name: "  other processes CPU", value: fmt(cpu.othersCpuMs, 0, " ms"), note: cpu.othersCpuMs > 0.2 * cpu.wallMs ? "CONTENDED: other work ran on this machine during the run" : "machine otherwise quiet" },
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
    { name: "postToRunningP50Ms", value: fmt(r.postToRunningP50Ms as number, 1, " ms"), note: lat ? `sim, empty cluster, n=${lat.iterations}; launch frame p50 ${fmt(lat.launchFrameReceivedP50Ms, 1)} ms, POST answer p50 ${fmt(lat.postResponseP50Ms, 1)} ms` : "" },
    { name: "postToRunningP99Ms", value: fmt(r.postToRunningP99Ms as number, 1, " ms"), note: lat ? `max ${fmt(lat.maxMs, 1)} ms` : "" },
    ...(loaded
      ? [{ name: "  with tasks running p50/p99", value: `${fmt(loaded.p50Ms, 1)}/${fmt(loaded.p99Ms, 1)} ms`, note: `${fmt(opts.instances, 0)} tasks running, n=${loaded.iterations}` }]
      : []),
    {
      name: "postToRunningExecP50Ms",
      value: fmt(r.postToRunningExecP50Ms as number, 1, " ms"),
      note: exec?.error ? `FAILED: ${String(exec.error).slice(0, 160)}` : exec ? `one Bun agent, sleep 600, n=${String(exec.iterations)}` : "skipped",
    },
    { name: "postToRunningExecP99Ms", value: fmt(r.postToRunningExecP99Ms as number, 1, " ms") },
    { name: "teardown (DELETE all)", value: fmt(td.deploymentDoneMs as number, 0, " ms"), note: td.skipped ? String(td.skipped) : `${fmt(td.tasks as number, 0)} tasks; DELETE answered at ${fmt(td.deleteResponseMs as number, 0)} ms, all TASK_KILLED acked at ${fmt(td.allKilledAckedMs as number, 0)} ms` },
  ];
  const m = r.machine as { nproc: number; cpuModel: string };
  process.stdout.write("\n" + table(`placement: ${fmt(opts.agents, 0)} simulated agents, ${fmt(opts.instances, 0)} instances; ${m.nproc} cores, ${m.cpuModel}`, rows) + "\n");
  const byPhase = ((r.cpu as { byPhase?: ReturnType<typeof cpuDelta>[] } | undefined)?.byPhase ?? []).filter((p) => p.wallMs > 0);
  if (byPhase.length) {
    process.stdout.write("\nCPU ms between milestones (as the bench saw them): wall | workerd runtime | workerd proxy | wrangler node | sim agents | bench | others\n");
    for (const p of byPhase) {
      process.stdout.write(`  ${`${p.from} -> ${p.to}`.padEnd(56)} ${fmt(p.wallMs, 0).padStart(7)} | ${fmt(p.workerdRuntimeCpuMs, 0).padStart(6)} | ${fmt(p.workerdProxyCpuMs, 0).padStart(6)} | ${fmt(p.wranglerNodeCpuMs, 0).padStart(6)} | ${fmt(p.simCpuMs, 0).padStart(6)} | ${fmt(p.benchCpuMs, 0).padStart(6)} | ${fmt(p.othersCpuMs, 0).padStart(6)}\n`);
    }
  }
  type Hot = { name: string; location: string; selfMs: number; totalMs: number };
  const profs = (r.profiles ?? {}) as Record<string, { sampledMs: number; idleMs: number; file: string; topSelf: Hot[]; topTotal: Hot[] } | undefined>;
  for (const [phase, prof] of Object.entries(profs)) {
    if (!prof) continue;
    process.stdout.write(`\nWorker isolate profile, ${phase} (${fmt(prof.sampledMs, 0)} ms sampled, ${fmt(prof.idleMs, 0)} ms idle; ${prof.file}):\n  self ms  total ms  function\n`);
    for (const f of prof.topSelf.slice(0, 12)) process.stdout.write(`  ${fmt(f.selfMs, 0).padStart(7)}  ${fmt(f.totalMs, 0).padStart(8)}  ${f.name} ${f.location}\n`);
    process.stdout.write("  by inclusive time:\n");
    for (const f of prof.topTotal.slice(0, 18)) process.stdout.write(`  ${fmt(f.selfMs, 0).padStart(7)}  ${fmt(f.totalMs, 0).padStart(8)}  ${f.name} ${f.location}\n`);
  }
  process.stdout.write(`baseline: ${BASELINE}\n`);
  const notes = r.notes as string[];
  if (notes.length) process.stdout.write(`notes:\n${notes.map((n) => `  - ${n}`).join("\n")}\n`);
}
