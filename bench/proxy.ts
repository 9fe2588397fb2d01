/**
 * `npm run bench -- proxy`: the service proxy against the same task reached straight. One real
 * agent runs one task (test/e2e/fixtures/proxy-server.mjs); a load generator in its own process
 * measures HTTP requests/s and p50/p99 through `/c/:cluster/service/web/` and straight to the
 * task's port, the local runtime's own ceiling (the Worker's `/health`, which touches no Durable
 * Object), and MB/s of a large download and upload both ways. Writes bench/results/proxy.json.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { NODE, ROOT, toolEnv } from "../scripts/lib/control-plane.ts";
import { startChild, waitFor } from "../scripts/lib/processes.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { oneAgentCluster } from "./lib/one-agent.ts";
import { controlPlaneProcesses, cpuByPid, machineInfo, sumCpuDelta } from "./lib/procfs.ts";
import { fmt, table, writeJson } from "./lib/report.ts";
import { measureVip } from "./vip.ts";

const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "proxy-server.mjs");

interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
}
interface TransferResult {
  status: number;
  bytes: number;
  seconds: number;
}

/** Runs the load generator once; returns its JSON line. */
async function load<T>(args: string[]): Promise<T> {
  const child = startChild(NODE, [join(ROOT, "bench", "proxy-load.ts"), ...args], { cwd: ROOT, env: toolEnv() });
  const code = await child.exited;
  const line = child.output().trim().split("\n").at(-1) ?? "";
  if (code !== 0) throw new Error(`load generator exited ${code}: ${child.output()}`);
  return JSON.parse(line) as T;
}

const mbps = (t: TransferResult) => (t.status === 200 ? t.bytes / (1024 * 1024) / t.seconds : NaN);

/** A control plane, an agent and one task of /web answering on a known port. */
async function setUp(dir: string) {
  const { cp, api } = await oneAgentCluster(dir, { name: "proxy", vars: { DNS_UPSTREAM: "off" } });
  await api.call("POST", api.c("/v2/apps"), { id: "/web", cmd: `exec node ${FIXTURE}`, cpus: 1, mem: 256, instances: 1 });
  const port = await waitFor(
    "the task to run",
    async () => {
      const { tasks } = (await api.call<{ tasks: { state: string; ports: number[] }[] }>("GET", api.c("/v2/apps/web/tasks"))).body;
      return tasks[0]?.state === "TASK_RUNNING" ? tasks[0].ports[0] : undefined;
    },
    60_000,
    100,
  );
  await waitFor(
    "the task to answer",
    () =>
      fetch(`http://127.0.0.1:${port}/whoami`).then(
        (r) => (r.ok ? true : undefined),
        () => undefined,
      ),
    20_000,
    100,
  );
  return {
    cp,
    api,
    deployments: `${cp.url}${api.c("/v2/deployments")}`,
    proxied: `${cp.url}${api.c("/service/web")}`,
    direct: `http://127.0.0.1:${port}`,
    auth: `Authorization: Bearer ${api.token}`,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: "string", default: "6" }, concurrency: { type: "string", default: "16" }, mb: { type: "string", default: "100" } },
  });
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-proxy-"));
  onCleanup("temp dir", () => rmSync(dir, { recursive: true, force: true }));
  const { cp, deployments, proxied, direct, auth } = await setUp(dir);
  const common = ["--seconds", values.seconds ?? "6", "--concurrency", values.concurrency ?? "16"];
  const mb = values.mb ?? "100";

  // Warm up the Worker, the object and the agent's connection to the task.
  await load<LoadResult>(["--url", `${proxied}/whoami`, "--header", auth, "--seconds", "1", "--concurrency", "4"]);
  const procs = controlPlaneProcesses(cp.child.proc.pid ?? 0);
  const pids = [...procs.workerd.map((p) => p.pid), ...procs.other.map((p) => p.pid)];
  const before = cpuByPid(pids);
  const viaProxy = await load<LoadResult>(["--url", `${proxied}/whoami`, "--header", auth, ...common]);
  const cpuMs = sumCpuDelta(before, cpuByPid(pids));
  const straight = await load<LoadResult>(["--url", `${direct}/whoami`, ...common]);
  const ceiling = await load<LoadResult>(["--url", `${cp.url}/health`, ...common]);
  const authRpc = await load<LoadResult>(["--url", deployments, "--header", auth, ...common]);
  const proxyDown = await load<TransferResult>(["--mode", "download", "--url", `${proxied}/bytes?mb=${mb}`, "--header", auth]);
  const directDown = await load<TransferResult>(["--mode", "download", "--url", `${direct}/bytes?mb=${mb}`]);
  const proxyUp = await load<TransferResult>(["--mode", "upload", "--url", `${proxied}/upload`, "--header", auth, "--mb", mb]);
  const directUp = await load<TransferResult>(["--mode", "upload", "--url", `${direct}/upload`, "--mb", mb]);

  // The one run also covers layer 4: connections through a named VIP against direct ones (bench/vip.ts).
  const vip = await measureVip({ seconds: Number(values.seconds), concurrency: Number(values.concurrency) });

  const proxyRps = viaProxy.requests / viaProxy.seconds;
  const directRps = straight.requests / straight.seconds;
  const ceilingRps = ceiling.requests / ceiling.seconds;
  const result = {
    benchmark: "proxy",
    timestamp: new Date().toISOString(),
    machine: machineInfo(),
    concurrency: Number(values.concurrency),
    proxyRps,
    directRps,
    proxyRatio: proxyRps / directRps,
    proxyP50Ms: viaProxy.latenciesMs[0],
    proxyP99Ms: viaProxy.latenciesMs[2],
    proxyErrors: viaProxy.errors,
    directP50Ms: straight.latenciesMs[0],
    directP99Ms: straight.latenciesMs[2],
    workerCeilingRps: ceilingRps,
    workerCeilingP50Ms: ceiling.latenciesMs[0],
    proxyOfCeilingRatio: proxyRps / ceilingRps,
    authenticatedRpcRps: authRpc.requests / authRpc.seconds,
    authenticatedRpcP50Ms: authRpc.latenciesMs[0],
    controlPlaneCpuMsPerProxiedRequest: viaProxy.requests > 0 ? cpuMs / viaProxy.requests : null,
    downloadMiB: Number(mb),
    proxyMBps: mbps(proxyDown),
    directMBps: mbps(directDown),
    proxyUploadMBps: mbps(proxyUp),
    directUploadMBps: mbps(directUp),
    vipMode: vip.vipMode,
    vipConnsPerSecond: vip.vipConnsPerSecond,
    directConnsPerSecond: vip.directConnsPerSecond,
    vipRatio: vip.vipRatio,
    userspaceVipConnsPerSecond: vip.userspaceVipConnsPerSecond,
    userspaceVipRatio: vip.userspaceVipRatio,
    context:
      "Everything on one 2-core machine: the load generator, wrangler's local proxy, workerd (a development runtime) and the agent. The ceiling is the same Worker answering /health without a Durable Object; /v2/deployments adds the token check and one RPC to the Cluster object. Through the proxy a request also crosses the Cluster object (an RPC) and the agent's WebSocket twice (each message to a hibernatable socket costs the object about a millisecond of dispatch), then the agent's own HTTP request to the task.",
  };
  process.stdout.write(
    table("Service proxy benchmark", [
      { name: "proxyRps", value: fmt(proxyRps, 0), note: `GET through /service/web/, ${result.concurrency} kept-alive connections, ${viaProxy.errors} errors` },
      { name: "proxyP50Ms / P99", value: `${fmt(result.proxyP50Ms, 2)} / ${fmt(result.proxyP99Ms, 2)}`, note: "ms" },
      { name: "directRps", value: fmt(directRps, 0), note: `the same GET straight to the task, p50 ${fmt(result.directP50Ms, 2)} ms` },
      { name: "proxyRatio", value: fmt(result.proxyRatio, 3), note: "proxied / direct" },
      {
        name: "workerCeilingRps",
        value: fmt(ceilingRps, 0),
        note: `GET /health on the same wrangler dev (no Durable Object): proxy reaches ${fmt(result.proxyOfCeilingRatio * 100, 0)}% of it`,
      },
      {
        name: "authenticatedRpcRps",
        value: fmt(result.authenticatedRpcRps, 0),
        note: `GET /v2/deployments: token check + one Cluster-object RPC, no tunnel; p50 ${fmt(result.authenticatedRpcP50Ms, 2)} ms`,
      },
      {
        name: "control plane CPU / request",
        value: fmt(result.controlPlaneCpuMsPerProxiedRequest, 3, " ms"),
        note: "workerd + wrangler's node proxy, while proxying",
      },
      { name: "proxyMBps / directMBps", value: `${fmt(result.proxyMBps, 1)} / ${fmt(result.directMBps, 1)}`, note: `download of ${mb} MiB` },
      { name: "upload MB/s proxy / direct", value: `${fmt(result.proxyUploadMBps, 1)} / ${fmt(result.directUploadMBps, 1)}`, note: `upload of ${mb} MiB` },
      {
        name: "vipConnsPerSecond / direct",
        value: `${fmt(vip.vipConnsPerSecond, 0)} / ${fmt(vip.directConnsPerSecond, 0)}`,
        note: `TCP connections through a named VIP (${vip.vipMode} data path) against straight to the task`,
      },
      { name: "vipRatio", value: fmt(vip.vipRatio, 3), note: `target ≥ 0.8; the userspace balancer: ${fmt(vip.userspaceVipRatio, 3)}` },
    ]) + `\n${result.context}\n`,
  );
  const out = join(ROOT, "bench", "results", "proxy.json");
  writeJson(out, result);
  process.stdout.write(`wrote ${out}\n`);
  return 0;
}
