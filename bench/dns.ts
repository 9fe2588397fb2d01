/**
 * `npm run bench -- dns`: DNS-over-HTTPS queries per second against the local control plane
 * (names in the zone, answered by the Worker from its leased copy of the zone,
 * control/dns/edge.ts), beside a do-nothing route of the same Worker on the same stack
 * (`GET /health`); the requests the DoH load cost the cluster's object
 * (`objectRequestsPer1000Queries`, from its `dcx_dns_snapshot_checks_total`); and the agent's
 * forwarder with a warm cache, each driven by a load generator in its own process.
 * Writes bench/results/dns.json.
 *
 *   npm run bench -- dns [--rounds 3] [--seconds 4] [--concurrency 32] [--profile]
 *
 * - Both RFC 8484 forms are measured: GET (`?dns=`, the cacheable form) and POST.
 * - `dohRatio` is the GET form's rate over the baseline's: the same request shape (a GET, no
 *   body), so the ratio is what answering a name costs beyond what any request costs.
 * - `dohPostRatio` is the POST form's over the same baseline. It also pays for a request body,
 *   which the local runtime makes cost any route about an eighth of a bodyless request.
 * - The machine is shared: the three loads run in turn, `--rounds` times, in a different order
 *   each round. A ratio is the median of its rounds' ratios (each of loads run side by side),
 *   a rate the median of its rounds (of an even count, the lower middle one), so drift in the machine's load falls on all three alike.
 * - `--profile` samples the Worker isolate during the first round's loads and adds each
 *   profile's hottest functions to the result (it slows them).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { NODE, ROOT, toolEnv } from "../scripts/lib/control-plane.ts";
import { freePort, startChild, waitFor } from "../scripts/lib/processes.ts";
import type { Api } from "./lib/api.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { oneAgentCluster } from "./lib/one-agent.ts";
import { controlPlaneProcesses, cpuByPid, machineInfo, sumCpuDelta } from "./lib/procfs.ts";
import { fmt, medianBy, percentile, table, writeJson } from "./lib/report.ts";
import { startProfiler, stopProfiler } from "./placement/support.ts";

interface LoadResult {
  queries: number;
  errors: number;
  seconds: number;
  /** The load generator's own CPU. */
  cpuMs: number;
  latenciesMs: number[];
}

/** One load's round: its result and the CPU the control plane's processes spent on it. */
interface Round extends LoadResult {
  qps: number;
  runtimeCpuMs: number;
}

type Form = "get" | "post" | "baseline";

/** The cluster object's count of zone checks (every DNS request the Worker made of it). */
async function zoneChecks(api: Api): Promise<number> {
  const text = (await api.call<string>("GET", api.c("/metrics/prometheus"))).body;
  return [...text.matchAll(/^dcx_dns_snapshot_checks_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** Runs the load generator once; returns its summary line. */
async function load(args: string[]): Promise<LoadResult> {
  const child = startChild(NODE, [join(ROOT, "bench", "dns-load.ts"), ...args], { cwd: ROOT, env: toolEnv() });
  const code = await child.exited;
  const line = child.output().trim().split("\n").at(-1) ?? "";
  if (code !== 0) throw new Error(`load generator exited ${code}: ${child.output()}`);
  return JSON.parse(line) as LoadResult;
}

/** A form's figures: its median round's rate and latencies, its CPU per request over all rounds. */
function summary(rounds: Round[]) {
  const m = medianBy(rounds, (r) => r.qps);
  if (m === undefined) throw new Error("no rounds");
  const queries = rounds.reduce((n, r) => n + r.queries, 0);
  const per = (ms: number) => (queries > 0 ? ms / queries : null);
  return {
    qps: m.qps,
    roundsQps: rounds.map((r) => Math.round(r.qps)),
    p50Ms: m.latenciesMs[0],
    p90Ms: m.latenciesMs[1],
    p99Ms: m.latenciesMs[2],
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    queries,
    runtimeCpuMsPerRequest: per(rounds.reduce((n, r) => n + r.runtimeCpuMs, 0)),
    loadGeneratorCpuMsPerRequest: per(rounds.reduce((n, r) => n + r.cpuMs, 0)),
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "4" },
      concurrency: { type: "string", default: "32" },
      profile: { type: "boolean", default: false },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-dns-"));
  onCleanup("temp dir", () => rmSync(dir, { recursive: true, force: true }));
  const forwarderPort = await freePort();
  const { cp, api } = await oneAgentCluster(dir, {
    name: "dns",
    vars: { DNS_UPSTREAM: "off" },
    agent: { extraArgs: ["--dns-listen", `127.0.0.1:${forwarderPort}`] },
  });
  await api.call("POST", api.c("/v2/apps"), { id: "/web", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 3 });
  await waitFor(
    "3 tasks running",
    async () => ((await api.call<{ app: { tasksRunning: number } }>("GET", api.c("/v2/apps/web"))).body.app.tasksRunning === 3 ? true : undefined),
    60_000,
    100,
  );
  const { key } = (await api.call<{ key: string }>("POST", `/clusters/${api.clusterId}/dns-keys`, {})).body;
  const common = ["--seconds", values.seconds ?? "4", "--concurrency", values.concurrency ?? "32", "--name", "web.marathon.mesos"];
  const dohUrl = `${cp.url}/dns/${key}/dns-query`;
  const args: Record<Form, string[]> = {
    get: ["--mode", "doh-get", "--url", dohUrl, ...common],
    post: ["--mode", "doh", "--url", dohUrl, ...common],
    baseline: ["--mode", "get", "--url", `${cp.url}/health`, ...common],
  };

  const procs = controlPlaneProcesses(cp.child.proc.pid ?? 0);
  const pids = [...procs.workerd.map((p) => p.pid), ...procs.other.map((p) => p.pid)];
  const notes: string[] = [];
  const profiles: Record<string, unknown> = {};
  /** Runs one load, under the profiler with `--profile` in the first round. */
  const measure = async (form: Form, round: number): Promise<Round> => {
    const profiler =
      values.profile && round === 0
        ? await startProfiler(
            procs.workerd.map((p) => p.pid),
            notes,
          )
        : undefined;
    const startedAt = Date.now();
    const before = cpuByPid(pids);
    const result = await load(args[form]);
    const runtimeCpuMs = sumCpuDelta(before, cpuByPid(pids));
    if (profiler) profiles[form] = await stopProfiler(profiler, join(tmpdir(), `dcx-bench-dns.${form}.cpuprofile`), notes, startedAt);
    return { ...result, qps: result.queries / result.seconds, runtimeCpuMs };
  };
  // A second of each load first, as a cluster in use has had: the steady state is what is
  // measured, not the first second after an idle spell (when every connection's first query
  // checks by itself) nor the runtime compiling a path for the first time.
  for (const form of ["get", "post", "baseline"] as const) await load(args[form].map((a, i, all) => (all[i - 1] === "--seconds" ? "1" : a)));
  const checksBefore = await zoneChecks(api);
  const rounds: Record<Form, Round[]> = { get: [], post: [], baseline: [] };
  const orders: Form[][] = [
    ["get", "post", "baseline"],
    ["baseline", "get", "post"],
    ["post", "baseline", "get"],
  ];
  for (let round = 0; round < Math.max(1, Number(values.rounds)); round++) {
    for (const form of orders[round % orders.length] ?? []) rounds[form].push(await measure(form, round));
  }
  // Counted conservatively: the scrape's own report of the isolate's query counts is one more check.
  const objectRequests = (await zoneChecks(api)) - checksBefore;
  const forwarder = await load(["--mode", "udp", "--port", String(forwarderPort), ...common]);
  const [get, post, baseline] = [summary(rounds.get), summary(rounds.post), summary(rounds.baseline)];
  const dohQueries = get.queries + post.queries;
  /** Each round's rate of a form over the baseline's in the same round. */
  const ratios = (form: Form) => rounds[form].map((r, i) => r.qps / (rounds.baseline[i]?.qps ?? Number.NaN));

  const result = {
    benchmark: "dns",
    timestamp: new Date().toISOString(),
    machine: machineInfo(),
    name: "web.marathon.mesos (A, 3 running tasks)",
    concurrency: Number(values.concurrency),
    rounds: rounds.get.length,
    secondsPerLoad: Number(values.seconds),
    dohQps: get.qps,
    dohRatio: percentile(ratios("get"), 50),
    dohRatioRounds: ratios("get"),
    dohPostQps: post.qps,
    dohPostRatio: percentile(ratios("post"), 50),
    dohPostRatioRounds: ratios("post"),
    baselineHealthQps: baseline.qps,
    // The cost model's figure (bench/scale/cost.ts): the dearer form's runtime CPU per query.
    dohControlPlaneCpuMsPerQuery: Math.max(get.runtimeCpuMsPerRequest ?? 0, post.runtimeCpuMsPerRequest ?? 0),
    doh: { get, post },
    baseline,
    dohObjectRequests: objectRequests,
    objectRequestsPer1000Queries: dohQueries > 0 ? (objectRequests / dohQueries) * 1000 : null,
    forwarderQps: forwarder.queries / forwarder.seconds,
    forwarderP50Ms: forwarder.latenciesMs[0],
    forwarderP99Ms: forwarder.latenciesMs[2],
    forwarderErrors: forwarder.errors,
    context:
      "For scale: Mesos-DNS served about 8,500 queries/s on one core, CoreDNS about 33,000/s on two vCPUs. The DoH figures are the local runtime (the deployed bundle on one workerd, started through Miniflare's API) on a 2-core machine shared with the load generator; on Cloudflare the same code runs on many machines.",
    ...(values.profile ? { profiles, notes } : {}),
  };
  const cpu = (f: ReturnType<typeof summary>) => `${fmt(f.runtimeCpuMsPerRequest, 3)} / ${fmt(f.loadGeneratorCpuMsPerRequest, 3)}`;
  const rates = (f: ReturnType<typeof summary>) =>
    `rounds ${f.roundsQps.join(", ")}/s, p50 ${fmt(f.p50Ms, 2)} ms, p99 ${fmt(f.p99Ms, 2)} ms, ${f.errors} errors`;
  process.stdout.write(
    table("DNS benchmark", [
      { name: "DoH GET queries/s", value: fmt(get.qps, 0), note: rates(get) },
      { name: "DoH POST queries/s", value: fmt(post.qps, 0), note: rates(post) },
      { name: "baseline: GET /health", value: `${fmt(baseline.qps, 0)} /s`, note: `the same Worker's do-nothing route, ${rates(baseline)}` },
      {
        name: "dohRatio",
        value: fmt(result.dohRatio, 2),
        note: `DoH GET ÷ the baseline, both bodyless GETs (target ≥ 0.9); rounds ${result.dohRatioRounds.map((r) => fmt(r, 2)).join(", ")}`,
      },
      {
        name: "dohPostRatio",
        value: fmt(result.dohPostRatio, 2),
        note: `DoH POST ÷ the baseline (a POST also pays for its body); rounds ${result.dohPostRatioRounds.map((r) => fmt(r, 2)).join(", ")}`,
      },
      { name: "CPU/request GET, POST, base", value: `${cpu(get)}; ${cpu(post)}; ${cpu(baseline)}`, note: "ms: the local runtime / the load generator" },
      {
        name: "objectRequestsPer1000Queries",
        value: fmt(result.objectRequestsPer1000Queries, 2),
        note: `${objectRequests} requests to the cluster's object for ${dohQueries} queries (target ≤ 10)`,
      },
      { name: "forwarderQps", value: fmt(result.forwarderQps, 0), note: `agent forwarder over UDP, warm cache, ${forwarder.errors} errors` },
      { name: "forwarderP50Ms / P99", value: `${fmt(forwarder.latenciesMs[0], 2)} / ${fmt(forwarder.latenciesMs[2], 2)}`, note: "ms" },
    ]) + `\n${result.context}\n`,
  );
  const out = join(ROOT, "bench", "results", "dns.json");
  writeJson(out, result);
  process.stdout.write(`wrote ${out}\n`);
  return 0;
}
