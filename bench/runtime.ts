/**
 * `npm run bench -- runtime`: the local runtime itself, the same Worker four ways in one run:
 * through `wrangler dev`'s proxy (the proxy workerd in front of the runtime), straight to the
 * runtime workerd wrangler dev started (its own port, found from its sockets), and under
 * Miniflare's API with the bundle `wrangler deploy` uploads (scripts/lib/runtime.ts, one workerd),
 * both on its port (a direct socket to the Worker) and through Miniflare's entry worker (the port
 * it prints for the cron trigger): what skipping the entry saves.
 * For each: requests/s and p50/p99 of a do-nothing route (`/health`, no Durable Object, no D1)
 * and of an authenticated API call (GET /c/:cluster/v2/deployments: a D1 token lookup, then the
 * Cluster object) from a load generator in its own process, one POST round trip at a time
 * (as bench/launch.ts times it), the seconds from start to answering, and the runtime's RSS.
 * Both stacks stay up and the four paths are measured in turn, round after round (the median
 * of each figure is reported), so the machine's other load falls on all of them alike.
 * Writes bench/results/runtime.json.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type ControlPlane, NODE, ROOT, startControlPlane, toolEnv } from "../scripts/lib/control-plane.ts";
import { freePort, startChild } from "../scripts/lib/processes.ts";
import { Api } from "./lib/api.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { controlPlaneProcesses, loadAverage, machineInfo, procMemory } from "./lib/procfs.ts";
import { fmt, percentile, round, table, writeJson } from "./lib/report.ts";
import { runtimeUrl } from "./scale/common.ts";

interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
}

/** One way of reaching the Worker, measured. */
interface Path {
  healthRps: number;
  healthP50Ms: number;
  healthP99Ms: number;
  apiRps: number;
  apiP50Ms: number;
  apiP99Ms: number;
  errors: number;
  postRoundTripP50Ms: number;
}

interface Load {
  seconds: string;
  concurrency: string;
  roundTrips: number;
}

async function load(args: string[]): Promise<LoadResult> {
  const child = startChild(NODE, [join(ROOT, "bench", "proxy-load.ts"), ...args], { cwd: ROOT, env: toolEnv() });
  const code = await child.exited;
  if (code !== 0) throw new Error(`load generator exited ${code}: ${child.output()}`);
  return JSON.parse(child.output().trim().split("\n").at(-1) ?? "") as LoadResult;
}

/** Authenticated POSTs the Worker refuses itself (422: the app has no id), one at a time, as bench/launch.ts's round trip; p50 in ms. */
async function postRoundTrip(url: string, api: Api, n: number): Promise<number> {
  const headers = { "Content-Type": "application/json", Authorization: `Bearer ${api.token}` };
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}${api.c("/v2/apps")}`, { method: "POST", headers, body: JSON.stringify({ cmd: "sleep 600" }) });
    await res.arrayBuffer();
    times.push(performance.now() - t0);
    if (res.status !== 422) throw new Error(`expected 422 from a POST without an app id, got ${res.status}`);
  }
  return percentile(times, 50);
}

async function measure(url: string, api: Api, opts: Load): Promise<Path> {
  const common = ["--seconds", opts.seconds, "--concurrency", opts.concurrency];
  await load(["--url", `${url}/health`, "--seconds", "1", "--concurrency", "4"]);
  const health = await load(["--url", `${url}/health`, ...common]);
  const rpc = await load(["--url", `${url}${api.c("/v2/deployments")}`, "--header", `Authorization: Bearer ${api.token}`, ...common]);
  return {
    healthRps: health.requests / health.seconds,
    healthP50Ms: health.latenciesMs[0] ?? NaN,
    healthP99Ms: health.latenciesMs[2] ?? NaN,
    apiRps: rpc.requests / rpc.seconds,
    apiP50Ms: rpc.latenciesMs[0] ?? NaN,
    apiP99Ms: rpc.latenciesMs[2] ?? NaN,
    errors: health.errors + rpc.errors,
    postRoundTripP50Ms: await postRoundTrip(url, api, opts.roundTrips),
  };
}

interface Stack {
  cp: ControlPlane;
  api: Api;
  startSeconds: number;
  /** Miniflare's entry worker's origin, when the port is a direct socket (the cron trigger's line names it). */
  entryUrl: string | undefined;
}

/** Starts one stack and signs up; the start time is from the call until /health answers. */
async function startStack(runtime: "wrangler" | "miniflare", dir: string): Promise<Stack> {
  const t0 = performance.now();
  let entryUrl: string | undefined;
  const cp = await startControlPlane({
    runtime,
    port: await freePort(),
    persistDir: join(dir, runtime, "state"),
    logLevel: "error",
    vars: { DNS_UPSTREAM: "off" },
    onLine: (line) => (entryUrl ??= /GET (http:\/\/[^/\s]+)\/cdn-cgi\/local\/scheduled/.exec(line)?.[1]),
  });
  const startSeconds = (performance.now() - t0) / 1000;
  onCleanup(`${runtime} control plane`, () => cp.stop());
  const api = new Api(cp.url);
  await api.signUp(`bench-runtime-${runtime}@example.com`);
  return { cp, api, startSeconds, entryUrl };
}

/** RSS of a stack's processes: its workerd and the Node that runs it (wrangler's or the Miniflare runner). */
function stackMemory(cp: ControlPlane) {
  const procs = controlPlaneProcesses(cp.child.proc.pid ?? -1);
  const rssMb = (pids: number[]) => pids.reduce((sum, pid) => sum + (procMemory(pid)?.rssMb ?? 0), 0);
  return { workerdProcesses: procs.workerd.length, rssMb: round(rssMb([...procs.workerd, ...procs.other].map((p) => p.pid))) };
}

/** Each figure's median over the rounds: the machine's other load moves between rounds, not within one. */
function medianPath(rounds: Path[]): Path {
  const keys = Object.keys(rounds[0] ?? {}) as (keyof Path)[];
  return Object.fromEntries(
    keys.map((k) => [
      k,
      percentile(
        rounds.map((r) => r[k]),
        50,
      ),
    ]),
  ) as unknown as Path;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: "string", default: "5" },
      concurrency: { type: "string", default: "16" },
      "round-trips": { type: "string", default: "100" },
      rounds: { type: "string", default: "3" },
    },
  });
  const opts: Load = { seconds: values.seconds ?? "5", concurrency: values.concurrency ?? "16", roundTrips: Number(values["round-trips"]) };
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-runtime-"));
  onCleanup("temp dir", () => rmSync(dir, { recursive: true, force: true }));

  const wrangler = await startStack("wrangler", dir);
  const miniflare = await startStack("miniflare", dir);
  const procs = controlPlaneProcesses(wrangler.cp.child.proc.pid ?? -1);
  const direct = await runtimeUrl(procs.workerd.filter((p) => p.role === "runtime").map((p) => p.pid));
  if (!direct) throw new Error("the runtime workerd of wrangler dev answers on no port");
  if (!miniflare.entryUrl) throw new Error("the Miniflare runtime printed no entry worker URL (its cron trigger line)");
  const targets = {
    wranglerProxy: [wrangler.cp.url, wrangler.api],
    wranglerRuntimeDirect: [direct, wrangler.api],
    miniflareEntry: [miniflare.entryUrl, miniflare.api],
    miniflare: [miniflare.cp.url, miniflare.api],
  } as const;
  const samples: Record<keyof typeof targets, Path[]> = { wranglerProxy: [], wranglerRuntimeDirect: [], miniflareEntry: [], miniflare: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [name, [url, api]] of Object.entries(targets) as [keyof typeof targets, (typeof targets)[keyof typeof targets]][]) {
      samples[name].push(
        await measure(url, api, opts).catch((err: unknown) => {
          throw new Error(`${name} (${url}): ${String(err)}${err instanceof Error && err.cause ? ` (${String(err.cause)})` : ""}`);
        }),
      );
    }
  }
  const paths = {
    wranglerProxy: medianPath(samples.wranglerProxy),
    wranglerRuntimeDirect: medianPath(samples.wranglerRuntimeDirect),
    miniflareEntry: medianPath(samples.miniflareEntry),
    miniflare: medianPath(samples.miniflare),
  };
  const wranglerMem = stackMemory(wrangler.cp);
  const miniflareMem = stackMemory(miniflare.cp);
  const result = {
    benchmark: "runtime",
    timestamp: new Date().toISOString(),
    machine: machineInfo(),
    loadAverage: loadAverage(),
    concurrency: Number(opts.concurrency),
    seconds: Number(opts.seconds),
    rounds,
    paths,
    start: {
      wranglerDevSeconds: round(wrangler.startSeconds, 2),
      miniflareSeconds: round(miniflare.startSeconds, 2),
      wranglerWorkerdProcesses: wranglerMem.workerdProcesses,
      miniflareWorkerdProcesses: miniflareMem.workerdProcesses,
      wranglerRssMb: wranglerMem.rssMb,
      miniflareRssMb: miniflareMem.rssMb,
    },
    miniflareHealthRatio: paths.miniflare.healthRps / paths.wranglerProxy.healthRps,
    miniflareApiRatio: paths.miniflare.apiRps / paths.wranglerProxy.apiRps,
    samples,
    notes: [
      "health: GET /health (no Durable Object, no D1); api: GET /c/:cluster/v2/deployments with a Bearer token (D1 token and membership lookups, then the Cluster object).",
      "postRoundTripP50Ms: an authenticated POST /v2/apps without an id (a 422 from the Worker), one at a time, as bench/launch.ts's plain round trip.",
      "paths: the median of each figure over the rounds; each round measures the four paths in turn, with both stacks up (samples holds every round). miniflare: its port, a direct socket to the Worker (what npm start, the tests and the benchmarks use); miniflareEntry: the same runtime through Miniflare's entry worker, as before the direct socket.",
      "start: from startControlPlane's call to /health answering, D1 migrations and bundling included (wrangler dev bundles in memory; the Miniflare path runs `wrangler deploy --dry-run --outdir` first). RSS: the workerd processes plus wrangler's or the runner's Node.",
      "Both stacks run the same Worker, bindings and compatibility date on the same workerd build, on this 2-core machine with the load generator and whatever else runs on it (loadAverage).",
    ],
  };
  writeJson(join(ROOT, "bench", "results", "runtime.json"), result);
  const row = (name: string, p: Path) => ({
    name,
    value: `${fmt(p.healthRps, 0)} / ${fmt(p.apiRps, 0)}`,
    note: `health p50 ${fmt(p.healthP50Ms)} ms, api p50 ${fmt(p.apiP50Ms)} ms p99 ${fmt(p.apiP99Ms)} ms, one POST ${fmt(p.postRoundTripP50Ms, 2)} ms${p.errors ? `, ${p.errors} errors` : ""}`,
  });
  console.log(
    table(`local runtime: requests/s (health / api), ${opts.concurrency} connections, median of ${rounds} rounds`, [
      row("wrangler dev (proxy)", paths.wranglerProxy),
      row("wrangler's runtime workerd", paths.wranglerRuntimeDirect),
      row("Miniflare, entry worker", paths.miniflareEntry),
      row("Miniflare, direct socket", paths.miniflare),
      { name: "start (s)", value: `${fmt(wrangler.startSeconds, 2)} / ${fmt(miniflare.startSeconds, 2)}`, note: "wrangler dev / Miniflare" },
      {
        name: "RSS (MB)",
        value: `${fmt(wranglerMem.rssMb, 0)} / ${fmt(miniflareMem.rssMb, 0)}`,
        note: `wrangler dev (${wranglerMem.workerdProcesses} workerd) / Miniflare (${miniflareMem.workerdProcesses})`,
      },
    ]),
  );
  return 0;
}
