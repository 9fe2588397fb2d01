/**
 * `npm run bench -- launch [--iterations 20]`: what DCX adds to starting a task, side by side
 * in one run, each pair measured back to back:
 *   docker: POST /v2/apps (a DOCKER app) → TASK_RUNNING on the event stream, versus a plain
 *           `docker run -d` of the same image and command;
 *   exec:   POST /v2/apps (a command) → TASK_RUNNING, versus a plain process spawn plus one
 *           POST round trip to the same Worker (an authenticated POST /v2/apps it refuses with
 *           422 before the Cluster object: what any API call costs on this stack).
 * The control plane runs on local workerd (wrangler dev), with one real Bun agent. Writes
 * bench/results/launch.json (or --out FILE). Targets: `execAddedP50Ms` and `dockerAddedP50Ms` under 5 ms.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { ROOT } from "../scripts/lib/control-plane.ts";
import type { Api, EventStream } from "./lib/api.ts";
import { onCleanup } from "./lib/cleanup.ts";
import { oneAgentCluster } from "./lib/one-agent.ts";
import { machineInfo } from "./lib/procfs.ts";
import { fmt, percentile, table, writeJson } from "./lib/report.ts";

const exec$ = promisify(execFile);
const IMAGE = "dcx-test/busybox:1";
const TARGET_RATIO = 1.25;
const TARGET_ADDED_MS = 5;

/** One authenticated POST that the Worker answers itself (422: the app has no id). */
async function postRoundTrip(api: Api): Promise<number> {
  const r = await api.call("POST", api.c("/v2/apps"), { cmd: "sleep 600" }, true);
  if (r.status !== 422) throw new Error(`expected 422 from a POST without an app id, got ${r.status}`);
  return r.doneAt - r.sentAt;
}

/** One launch's times from the POST being sent (ms): its 201, its TASK_RUNNING event, and both (the figure compared). */
interface LaunchTimes {
  answered: number;
  running: number;
  elapsed: number;
}

/** POST an app, wait for its task's TASK_RUNNING, then delete it and wait until it is gone. */
async function dcxLaunch(api: Api, events: EventStream, id: string, app: Record<string, unknown>): Promise<LaunchTimes> {
  events.drain();
  const running = events.next((e) => e.type === "status_update_event" && e.data.appId === id && e.data.taskStatus === "TASK_RUNNING", 60_000);
  const failed = events.next(
    (e) => e.type === "status_update_event" && e.data.appId === id && ["TASK_FAILED", "TASK_ERROR"].includes(String(e.data.taskStatus)),
    60_000,
  );
  failed.catch(() => undefined);
  const t0 = performance.now();
  const post = await api.call("POST", api.c("/v2/apps"), { id, ...app });
  const first = await Promise.race([running.then(() => "running"), failed.then((e) => `failed: ${String(e.data.message)}`)]);
  // Both the 201 and the event must have arrived: whichever came last ends the launch.
  const elapsed = performance.now() - t0;
  if (first !== "running") throw new Error(`${id} ${first}`);
  const killed = events.next((e) => e.type === "status_update_event" && e.data.appId === id && e.data.taskStatus === "TASK_KILLED", 60_000);
  await api.call("DELETE", api.c(`/v2/apps${id}?force=true`));
  await killed;
  return { answered: post.doneAt - t0, running: (await running).at - t0, elapsed };
}

async function dockerRun(name: string): Promise<number> {
  const t0 = performance.now();
  // The same container DCX starts: image, command, network and the app's limits (cpus 0.1, mem 32).
  await exec$("docker", [
    "run",
    "-d",
    "--name",
    name,
    "--network",
    "host",
    "--cpus",
    "0.1",
    "--memory",
    "32m",
    "--memory-swap",
    "32m",
    "--entrypoint",
    "/bin/sh",
    IMAGE,
    "-c",
    "sleep 600",
  ]);
  const elapsed = performance.now() - t0;
  await exec$("docker", ["rm", "-f", name]);
  return elapsed;
}

/** Time until a `sleep 600` process exists (the spawn event), then it is killed. */
function plainSpawn(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("sleep", ["600"], { stdio: "ignore", detached: true });
    child.once("error", reject);
    child.once("spawn", () => {
      const elapsed = performance.now() - t0;
      child.kill("SIGKILL");
      child.once("exit", () => resolve(elapsed));
    });
  });
}

function stats(samples: number[]) {
  return { p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), n: samples.length };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { iterations: { type: "string", default: "20" }, out: { type: "string" } } });
  const iterations = Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations < 1) throw Object.assign(new Error("--iterations must be a positive integer"), { name: "UsageError" });
  await exec$("docker", ["image", "inspect", IMAGE]).catch(() => {
    throw new Error(`docker or the image ${IMAGE} is missing: run scripts/docker-setup.sh (as root)`);
  });
  const dir = mkdtempSync(join(tmpdir(), "dcx-bench-launch-"));
  onCleanup("temp dir", () => rmSync(dir, { recursive: true, force: true }));
  const { api } = await oneAgentCluster(dir, { name: "launch", agentStopMs: 15_000 });
  const events = await api.events(["status_update_event"]);
  onCleanup("event stream", () => events.close());

  const docker = { dcx: [] as number[], plain: [] as number[] };
  const exec = { dcx: [] as number[], plain: [] as number[], post: [] as number[], answered: [] as number[], running: [] as number[] };
  const dockerApp = { cmd: "sleep 600", cpus: 0.1, mem: 32, container: { type: "DOCKER", docker: { image: IMAGE, network: "HOST" } } };
  const execApp = { cmd: "sleep 600", cpus: 0.1, mem: 32 };
  // One warm-up of each, not counted: the first container start pays for cold caches.
  await dcxLaunch(api, events, "/warm-docker", dockerApp);
  await dockerRun(`dcx-bench-warm-${process.pid}`);
  for (let i = 0; i < iterations; i++) {
    process.stderr.write(`[launch] iteration ${i + 1}/${iterations}\n`);
    docker.dcx.push((await dcxLaunch(api, events, `/docker-${i}`, dockerApp)).elapsed);
    docker.plain.push(await dockerRun(`dcx-bench-${process.pid}-${i}`));
    const launched = await dcxLaunch(api, events, `/exec-${i}`, execApp);
    exec.dcx.push(launched.elapsed);
    exec.answered.push(launched.answered);
    exec.running.push(launched.running);
    exec.plain.push(await plainSpawn());
    exec.post.push(await postRoundTrip(api));
  }

  const d = stats(docker.dcx);
  const dr = stats(docker.plain);
  const e = stats(exec.dcx);
  const s = stats(exec.plain);
  const p = stats(exec.post);
  const answered = stats(exec.answered);
  const runningEvent = stats(exec.running);
  const execAdded = e.p50Ms - (s.p50Ms + p.p50Ms);
  const result = {
    benchmark: "launch",
    timestamp: new Date().toISOString(),
    machine: machineInfo(),
    iterations,
    image: IMAGE,
    dockerP50Ms: d.p50Ms,
    dockerP99Ms: d.p99Ms,
    dockerRunP50Ms: dr.p50Ms,
    dockerRunP99Ms: dr.p99Ms,
    dockerRatio: d.p50Ms / dr.p50Ms,
    dockerAddedP50Ms: d.p50Ms - dr.p50Ms,
    execP50Ms: e.p50Ms,
    execP99Ms: e.p99Ms,
    spawnP50Ms: s.p50Ms,
    spawnP99Ms: s.p99Ms,
    execRatio: e.p50Ms / s.p50Ms,
    postRoundTripP50Ms: p.p50Ms,
    execAnsweredP50Ms: answered.p50Ms,
    execRunningEventP50Ms: runningEvent.p50Ms,
    execAddedP50Ms: execAdded,
    // The machine is shared: its 1-minute load when the run ended says how far to trust the figures.
    loadAverage1m: loadavg()[0],
    targetAddedMs: TARGET_ADDED_MS,
    targetDockerRatio: TARGET_RATIO,
    // The targets: both added times under TARGET_ADDED_MS (the ratio is the first wave's).
    meetsDockerRatio: d.p50Ms / dr.p50Ms <= TARGET_RATIO,
    meetsTarget: execAdded < TARGET_ADDED_MS && d.p50Ms - dr.p50Ms < TARGET_ADDED_MS,
    samples: { docker, exec },
  };
  process.stdout.write(
    table(`launch: POST /v2/apps → TASK_RUNNING beside the same start done by hand (n=${iterations} each, interleaved)`, [
      { name: "dockerP50Ms / P99", value: `${fmt(d.p50Ms, 1)} / ${fmt(d.p99Ms, 1)}`, note: "DCX: DOCKER app, HOST network, sleep 600" },
      { name: "dockerRunP50Ms / P99", value: `${fmt(dr.p50Ms, 1)} / ${fmt(dr.p99Ms, 1)}`, note: "docker run -d: same image, command, network and limits" },
      {
        name: "dockerRatio",
        value: fmt(result.dockerRatio, 2),
        note: `${result.meetsDockerRatio ? "meets" : "MISSES"} the target <= ${TARGET_RATIO}; DCX adds ${fmt(result.dockerAddedP50Ms, 1)} ms at p50`,
      },
      { name: "execP50Ms / P99", value: `${fmt(e.p50Ms, 1)} / ${fmt(e.p99Ms, 1)}`, note: "DCX: exec app, sleep 600" },
      { name: "spawnP50Ms / P99", value: `${fmt(s.p50Ms, 2)} / ${fmt(s.p99Ms, 2)}`, note: "child_process.spawn of sleep 600" },
      { name: "postRoundTripP50Ms", value: fmt(p.p50Ms, 1), note: "an authenticated POST the Worker refuses itself (422), to the same local runtime" },
      { name: "execAnsweredP50Ms", value: fmt(answered.p50Ms, 1), note: "of the exec launches: POST sent → its 201 received" },
      { name: "execRunningEventP50Ms", value: fmt(runningEvent.p50Ms, 1), note: "of the exec launches: POST sent → TASK_RUNNING event received" },
      {
        name: "execAddedP50Ms",
        value: fmt(execAdded, 1),
        note: `exec p50 − (spawn p50 + POST round trip p50); target < ${TARGET_ADDED_MS} ms: ${execAdded < TARGET_ADDED_MS ? "meets" : "MISSES"}`,
      },
      {
        name: "dockerAddedP50Ms",
        value: fmt(result.dockerAddedP50Ms, 1),
        note: `docker p50 − docker run -d p50; target < ${TARGET_ADDED_MS} ms: ${result.dockerAddedP50Ms < TARGET_ADDED_MS ? "meets" : "MISSES"}`,
      },
    ]) + "\n",
  );
  const out = values.out ?? join(ROOT, "bench", "results", "launch.json");
  writeJson(out, result);
  process.stdout.write(`wrote ${out}\n`);
  return 0;
}
