/**
 * The frameworks benchmark: an external framework on the Mesos v1 scheduler API beside
 * Marathon, on the same simulated agents in the same run.
 *
 *   npm run bench -- frameworks [--agents 1000] [--tasks 10000] [--timeout-s 300] [--out bench/results/frameworks.json] [--profile]
 *
 * `--profile` samples the Worker isolate (the Worker and the Cluster object share it) during
 * each side's run and adds each profile's hottest functions to the result (it slows both).
 *
 * 1. the control plane on workerd (`wrangler dev`, fresh temp state), N simulated agents
 *    (bench/sim-agents.ts) answering every launch with TASK_RUNNING at once;
 * 2. Marathon: one app of M instances, from the POST until all M run; then the app is removed
 *    and the bench waits until the agents have reported its tasks killed (untimed), so the
 *    external framework starts from the same state Marathon did: the same agents, free;
 * 3. an external framework (bench/frameworks/client.ts, on kept-alive node:http connections, as
 *    a production framework's HTTP client), authenticated as a service account:
 *    from SUBSCRIBE until all its M tasks run, accepting offers and acknowledging updates as it
 *    goes (acks pipelined behind launches); the time until its last acknowledgement is answered
 *    is reported beside it (`externalAllAcknowledgedMs`).
 * Both sides are measured the same way: a placement counts when its task is TASK_RUNNING on its
 * simulated agent and the master has acknowledged that update to the agent (the simulated
 * agents report when the expected number got there). The external framework's own view, when
 * its last TASK_RUNNING UPDATE arrived on its stream, is reported beside it (`externalStreamMs`).
 * `offersPerSecond` is the first OFFERS event's offers over the time from SUBSCRIBE to its
 * arrival (every agent's remainder, offered in one round); `acceptToRunning` is each task's
 * time from its ACCEPT going out to its TASK_RUNNING arriving on the stream; `ratio` is external placements
 * per second over Marathon's (the target: at least 0.8). `controlPlaneCpuMs` is the CPU
 * the control plane's workerd processes (`runtime`: the Worker and the Cluster object; `proxy`:
 * wrangler's proxy in front of it) spent on each side and on the acknowledgements: what each
 * costs, which the shared machine's load does not change the way it changes wall times;
 * `cpuRatio` is Marathon's CPU over the external side's (1: the same cost per placement).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, startControlPlane } from "../scripts/lib/control-plane.ts";
import { freePort, waitFor } from "../scripts/lib/processes.ts";
import { BenchFramework } from "./frameworks/client.ts";
import { Api } from "./lib/api.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { controlPlaneProcesses, cpuByPid, loadAverage, machineInfo, sumCpuDelta } from "./lib/procfs.ts";
import { startProfiler, stopProfiler } from "./placement/support.ts";
import { fmt, percentile, round, table, writeJson } from "./lib/report.ts";
import { SimAgents } from "./lib/sim.ts";

const TARGET_RATIO = 0.8;
const log = (msg: string) => process.stderr.write(`[frameworks] ${msg}\n`);

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: "string", default: "1000" },
      tasks: { type: "string", default: "10000" },
      "timeout-s": { type: "string", default: "300" },
      out: { type: "string", default: join(ROOT, "bench", "results", "frameworks.json") },
      profile: { type: "boolean", default: false },
    },
  });
  const int = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw Object.assign(new Error(`--${name} must be a positive integer, got '${v}'`), { name: "UsageError" });
    return n;
  };
  return {
    agents: int("agents", values.agents),
    tasks: int("tasks", values.tasks),
    timeoutMs: int("timeout-s", values["timeout-s"]) * 1000,
    out: values.out ?? "",
    profile: values.profile ?? false,
  };
}

/** CPU ms of a phase, runtime and proxy together. */
const cpuOf = (phase: { runtime: number; proxy: number } | undefined) => (phase ? phase.runtime + phase.proxy : Number.NaN);

const epochNow = () => performance.timeOrigin + performance.now();

/**
 * Epoch ms at which the simulated agents have had `markId`'s TASK_RUNNING updates (as many as
 * the mark expects) acknowledged by the master: each task launched on an agent, running there,
 * and its RUNNING committed by the master. The same measure for both sides.
 */
async function runningAtAgents(sim: SimAgents, markId: number, timeoutMs: number): Promise<number> {
  const e = await sim.wait((ev) => ev.event === "acked" && ev.id === markId, timeoutMs, "every TASK_RUNNING to be acknowledged to the simulated agents");
  return Number(e.at);
}

/** Marathon's part: one app of `tasks` instances, POST → all of them TASK_RUNNING on the agents. */
async function marathonRun(api: Api, sim: SimAgents, tasks: number, timeoutMs: number): Promise<number> {
  const markId = await sim.mark(tasks);
  const t0 = epochNow();
  await api.call("POST", api.c("/v2/apps"), { id: "/bench/marathon", cmd: "sleep 600", cpus: 0.01, mem: 1, disk: 0, instances: tasks, portDefinitions: [] });
  return (await runningAtAgents(sim, markId, timeoutMs)) - t0;
}

/**
 * Removes Marathon's app and waits until the agents have reported all its tasks killed, so the
 * external framework starts from the state Marathon started from: the same agents, free, and no
 * live task of the other side for its rounds to account for (not part of either side's time).
 */
async function clearMarathon(api: Api, sim: SimAgents, tasks: number, timeoutMs: number): Promise<void> {
  const markId = await sim.mark(tasks);
  await api.call("DELETE", api.c("/v2/apps/bench/marathon?force=true"));
  await sim.wait((ev) => ev.event === "killed" && ev.id === markId, timeoutMs, "Marathon's tasks to be killed");
}

/** The external framework's part: SUBSCRIBE → all its tasks TASK_RUNNING on the agents (and, later, on its stream). */
async function externalRun(api: Api, sim: SimAgents, baseUrl: string, tasks: number, timeoutMs: number) {
  const account = await api.call<{ secret: string }>("POST", `/clusters/${api.clusterId}/service-accounts`, { principal: "bench-framework" });
  const fw = new BenchFramework(`${baseUrl}${api.c("/api/v1/scheduler")}`, account.body.secret, tasks);
  onCleanup("close the framework's stream and connections", () => fw.close());
  const markId = await sim.mark(tasks);
  const atAgents = runningAtAgents(sim, markId, timeoutMs);
  await fw.subscribe();
  // Progress each second on stderr: where a slow run spends its time.
  const progress = setInterval(
    () =>
      log(
        `external: ${fw.acceptAt.size} accepted, ${fw.runningAt.size} running, ${fw.acksSent} acked, last UPDATE ${Math.round(fw.lastUpdateLagMs)} ms after its commit`,
      ),
    1000,
  );
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () =>
        reject(
          new Error(
            `external framework: ${fw.runningAt.size}/${tasks} running after ${timeoutMs} ms (${fw.offersReceived} offers received, ${fw.acceptAt.size} tasks accepted); errors: ${fw.errors.slice(0, 5).join("; ")}`,
          ),
        ),
      timeoutMs,
    ),
  );
  await Promise.race([fw.allRunning, timeout]).finally(() => clearInterval(progress));
  const streamMs = performance.now() - fw.subscribedAt;
  const ms = (await atAgents) - (performance.timeOrigin + fw.subscribedAt);
  const latencies = [...fw.runningAt].map(([id, at]) => at - (fw.acceptAt.get(id) ?? at));
  // How much of the window's work was acknowledgements: they share the runtime's thread with the placement.
  const acksInWindow = fw.acksSent;
  return { fw, ms, streamMs, latencies, acksInWindow };
}

/** When the framework's last acknowledgement was answered (ms after SUBSCRIBE): not part of the placement time, nothing waits on acks. */
async function acknowledged(fw: BenchFramework, timeoutMs: number): Promise<number | null> {
  await waitFor("the framework's acknowledgements", async () => (fw.lastAckAt > 0 ? true : undefined), timeoutMs, 20).catch(() => undefined);
  return fw.lastAckAt > 0 ? fw.lastAckAt - fw.subscribedAt : null;
}

export async function run(argv: string[]): Promise<number> {
  const opts = options(argv);
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-frameworks-"));
  onCleanup("remove temp dir", () => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  log(`starting the control plane on 127.0.0.1:${port}`);
  const cp = await startControlPlane({ port, persistDir: join(dir, "state"), logLevel: "error" });
  onCleanup("stop the control plane", () => cp.stop());
  const api = new Api(cp.url);
  await api.signUp(`bench-frameworks-${Date.now()}@example.com`);
  const sim = new SimAgents({
    wsUrl: `${cp.url.replace(/^http/, "ws")}/c/${api.clusterId}/agent/connect`,
    token: await api.joinToken(),
    count: opts.agents,
    concurrency: 50,
  });
  onCleanup("stop the simulated agents", () => sim.stop());
  const ready = await sim.wait((e) => e.event === "ready", Math.max(120_000, opts.agents * 200), "the simulated agents to register");
  log(`${String(ready.registered)} agents registered`);

  const notes: string[] = [];
  const profiles: Record<string, unknown> = {};
  const workerdPids = () =>
    controlPlaneProcesses(cp.child.proc.pid ?? -1)
      .workerd.sort((a, b) => (a.role === "proxy" ? -1 : 1) - (b.role === "proxy" ? -1 : 1))
      .map((p) => p.pid);
  // CPU the control plane spent on each side, by workerd process (the runtime running the Worker
  // and the Cluster object, wrangler's proxy in front of it): what each side costs, whatever else
  // the shared machine runs.
  const cpuMs: Record<string, { runtime: number; proxy: number }> = {};
  // The machine's other side of each phase: the simulated agents' process and this one (the
  // external framework's client lives here). With two cores, they compete with the runtime.
  const outsideCpuMs: Record<string, { simAgents: number; benchProcess: number }> = {};
  const pidsOf = (role: string) =>
    controlPlaneProcesses(cp.child.proc.pid ?? -1)
      .workerd.filter((p) => p.role === role)
      .map((p) => p.pid);
  const profiled = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    const profiler = opts.profile ? await startProfiler(workerdPids(), notes) : undefined;
    const startedAt = Date.now();
    const [runtime, proxy] = [cpuByPid(pidsOf("runtime")), cpuByPid(pidsOf("proxy"))];
    const [simBefore, benchBefore] = [cpuByPid([sim.proc.pid ?? -1]), process.cpuUsage()];
    const value = await fn();
    const bench = process.cpuUsage(benchBefore);
    outsideCpuMs[phase] = { simAgents: round(sumCpuDelta(simBefore, cpuByPid([sim.proc.pid ?? -1]))), benchProcess: round((bench.user + bench.system) / 1000) };
    cpuMs[phase] = { runtime: round(sumCpuDelta(runtime, cpuByPid(pidsOf("runtime")))), proxy: round(sumCpuDelta(proxy, cpuByPid(pidsOf("proxy")))) };
    if (profiler) profiles[phase] = await stopProfiler(profiler, join(tmpdir(), `dcx-bench-frameworks.${phase}.cpuprofile`), notes, startedAt);
    return value;
  };

  // The machine is shared: its 1-minute load before each side says how much of it each side had.
  const load = { beforeMarathon: loadAverage(), beforeExternal: 0 };
  log(`Marathon: ${opts.tasks} instances`);
  const marathonMs = await profiled("marathon", () => marathonRun(api, sim, opts.tasks, opts.timeoutMs));
  log(`Marathon: all running in ${fmt(marathonMs / 1000, 2)} s; removing its app`);
  await clearMarathon(api, sim, opts.tasks, opts.timeoutMs);
  log(`external framework: ${opts.tasks} tasks`);
  load.beforeExternal = loadAverage();
  const ext = await profiled("external", () => externalRun(api, sim, cp.url, opts.tasks, opts.timeoutMs));
  const ackedMs = await profiled("acknowledge", () => acknowledged(ext.fw, opts.timeoutMs));
  const first = ext.fw.firstOffers;
  const marathonPerSecond = opts.tasks / (marathonMs / 1000);
  const externalPerSecond = opts.tasks / (ext.ms / 1000);
  const result = {
    benchmark: "frameworks",
    timestamp: new Date().toISOString(),
    machine: machineInfo(),
    loadAverage1m: load,
    agents: Number(ready.registered),
    tasks: opts.tasks,
    offersPerSecond: first ? round(first.count / ((first.at - ext.fw.subscribedAt) / 1000)) : null,
    offersReceived: ext.fw.offersReceived,
    acceptToRunningP50Ms: round(percentile(ext.latencies, 50)),
    acceptToRunningP99Ms: round(percentile(ext.latencies, 99)),
    externalPlacementsPerSecond: round(externalPerSecond),
    marathonPlacementsPerSecond: round(marathonPerSecond),
    ratio: round(externalPerSecond / marathonPerSecond, 2),
    targetRatio: TARGET_RATIO,
    externalMs: round(ext.ms),
    externalStreamMs: round(ext.streamMs),
    externalAllAcknowledgedMs: ackedMs === null ? null : round(ackedMs),
    externalAcksInWindow: ext.acksInWindow,
    acknowledgeCpuMsPerCall: round(cpuOf(cpuMs.acknowledge) / Math.max(1, opts.tasks - ext.acksInWindow), 3),
    marathonMs: round(marathonMs),
    controlPlaneCpuMs: cpuMs,
    outsideCpuMs,
    cpuRatio: round(cpuOf(cpuMs.marathon) / cpuOf(cpuMs.external), 2),
    frameworkErrors: ext.fw.errors.slice(0, 20),
    ...(opts.profile ? { profiles, notes } : {}),
  };
  process.stdout.write(
    table(`frameworks: ${result.agents} simulated agents, ${opts.tasks} tasks each for Marathon and an external framework`, [
      { name: "offers per second", value: fmt(result.offersPerSecond), note: "first OFFERS event: every agent's remainder, one round" },
      { name: "ACCEPT -> RUNNING p50", value: fmt(result.acceptToRunningP50Ms, 1, " ms") },
      { name: "ACCEPT -> RUNNING p99", value: fmt(result.acceptToRunningP99Ms, 1, " ms") },
      {
        name: "external placements/s",
        value: fmt(result.externalPlacementsPerSecond),
        note: `SUBSCRIBE -> ${opts.tasks} RUNNING at the agents in ${fmt(ext.ms / 1000, 2)} s`,
      },
      {
        name: "external, on its stream",
        value: fmt(ext.streamMs / 1000, 2, " s"),
        note: `SUBSCRIBE -> the framework has read ${opts.tasks} TASK_RUNNING updates`,
      },
      {
        name: "external, all acked",
        value: fmt(ackedMs === null ? null : ackedMs / 1000, 2, " s"),
        note: `SUBSCRIBE -> last of ${opts.tasks} ACKNOWLEDGEs answered`,
      },
      {
        name: "Marathon placements/s",
        value: fmt(result.marathonPlacementsPerSecond),
        note: `POST -> ${opts.tasks} RUNNING at the agents in ${fmt(marathonMs / 1000, 2)} s`,
      },
      {
        name: "control-plane CPU ratio",
        value: fmt(result.cpuRatio, 2),
        note: `Marathon's CPU over the external side's (${fmt(cpuOf(cpuMs.marathon))} / ${fmt(cpuOf(cpuMs.external))} ms): cost, whatever the machine's load`,
      },
      {
        name: "ratio",
        value: fmt(result.ratio, 2),
        note: result.ratio >= TARGET_RATIO ? `meets the target ${TARGET_RATIO}` : `MISSES the target ${TARGET_RATIO}`,
      },
    ]) + "\n",
  );
  writeJson(opts.out, result);
  log(`wrote ${opts.out}`);
  return 0;
}
