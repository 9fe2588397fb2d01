/**
 * `npm run bench -- <name> [flags]`: runs one benchmark, prints a table and writes
 * bench/results/<name>.json. A benchmark exits 0 even when it misses a target (it says so);
 * it exits 1 only when it could not measure at all, and 2 on a usage error.
 */
import { cleanupAll, installSignalHandlers } from "./lib/cleanup.ts";

interface Benchmark {
  run: (argv: string[]) => Promise<number>;
}

const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  placement: () => import("./placement.ts"),
  dns: () => import("./dns.ts"),
  launch: () => import("./launch.ts"),
  frameworks: () => import("./frameworks.ts"),
  vip: () => import("./vip.ts"),
  proxy: () => import("./proxy.ts"),
  scale: () => import("./scale.ts"),
  cost: () => import("./cost.ts"),
  runtime: () => import("./runtime.ts"),
};

const DESCRIPTIONS: Record<string, string> = {
  placement:
    "Marathon placements/s over 1,000 simulated agents (10,000 instances), POST→RUNNING latency (simulated and exec), workerd CPU per placement and RSS",
  dns: "DNS-over-HTTPS queries/s and p50/p99 against the local control plane beside a do-nothing route (dohRatio), requests to the cluster object per 1,000 queries, and the agent's forwarder with a warm cache, from a separate load-generator process",
  frameworks:
    "an external framework on the Mesos scheduler API beside Marathon over 1,000 simulated agents: offers/s, ACCEPT→RUNNING p50/p99, placements/s of each and their ratio",
  vip: "TCP connections/s and MB/s through a named VIP (the agent's layer-4 balancer) against a direct connection to the same task",
  proxy:
    "HTTP requests/s and p50/p99 through /service/<name>/ against straight to the task and a do-nothing Worker, and MB/s of a large download and upload both ways",
  scale:
    "10,000 simulated agents and 100,000 tasks on one Cluster object: registration CPU per agent, placements/s, the isolate's heap; writes scale.json and the cost model cost.json",
  cost: "rebuilds bench/results/cost.json (dollars per month at Cloudflare's prices) from the last scale and dns results, without running anything",
  runtime:
    "the local runtime four ways: through wrangler dev's proxy, straight to its runtime workerd, and under Miniflare's API (the deploy bundle) through its entry worker and on its direct socket: requests/s and p50/p99 of /health and an authenticated API call, one POST round trip, start seconds, RSS",
  launch: "POST→TASK_RUNNING for a docker app beside a plain docker run -d, and for an exec app beside a plain spawn (real agent, real dockerd)",
};

function usage(): string {
  const names = Object.keys(BENCHMARKS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    "usage: npm run bench -- <benchmark> [flags]",
    "",
    "benchmarks:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${DESCRIPTIONS[n] ?? ""}`),
    "",
    "e.g. npm run bench -- placement --agents 200 --instances 2000",
  ].join("\n");
}

const [name, ...rest] = process.argv.slice(2);
const load = name ? BENCHMARKS[name] : undefined;
if (!name || name === "--help" || name === "-h" || !load) {
  if (name && name !== "--help" && name !== "-h") process.stderr.write(`unknown benchmark '${name}'\n\n`);
  process.stderr.write(usage() + "\n");
  process.exit(name === "--help" || name === "-h" ? 0 : 2);
}

installSignalHandlers();
let code = 1;
try {
  const bench = await load();
  code = await bench.run(rest);
} catch (err) {
  const usageError = err instanceof Error && (err.name === "UsageError" || String((err as { code?: unknown }).code ?? "").startsWith("ERR_PARSE_ARGS"));
  if (usageError) process.stderr.write(`${(err as Error).message}\n\n${usage()}\n`);
  else process.stderr.write(`\nbenchmark '${name}' failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  code = usageError ? 2 : 1;
} finally {
  await cleanupAll();
}
process.exit(code);
