/** POST → TASK_RUNNING latency: on the simulated agents, and on one real Bun agent (exec driver). */
import { join } from "node:path";
import { type AgentProcess, startAgent } from "../../scripts/lib/agent-process.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { Api, type EventStream } from "../lib/api.ts";
import { onCleanup } from "../lib/cleanup.ts";
import { procMemory } from "../lib/procfs.ts";
import { percentile, round } from "../lib/report.ts";
import type { SimAgents } from "../lib/sim.ts";
import { log, sleep, epochNow } from "./common.ts";
import { deleteAllApps } from "./support.ts";

// --- latency -------------------------------------------------------------------------------

export const FAILED_STATES = new Set(["TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_KILLED", "TASK_UNREACHABLE"]);

export interface LatencyResult {
  samples: number[];
  postResponse: number[];
  launchReceived: number[];
  deploymentDone: number[];
  deleteDone: number[];
  /** Iterations redone because the event stream or the API broke off (a control plane reload). */
  interruptions: string[];
}

/** A task reached a failure state, or never reached TASK_RUNNING while the event stream stayed up. */
export class LaunchFailed extends Error {}

/** The event stream, and how to open it again after the control plane dropped it. */
export interface Stream {
  current: EventStream;
  reopen: () => Promise<EventStream>;
}

export const MAX_INTERRUPTIONS = 3;

/**
 * POST a one-instance app, wait for its TASK_RUNNING on the event stream opened beforehand,
 * wait for its deployment to end, DELETE it, wait for that deployment to end; `iterations`
 * times. An iteration cut short by the control plane (stream ended, API error) is redone
 * after reopening the stream, at most MAX_INTERRUPTIONS times.
 */
export async function postToRunning(
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

export async function oneLaunch(
  api: Api,
  events: EventStream,
  id: string,
  app: Record<string, unknown>,
  sim: SimAgents | undefined,
  timeoutMs: number,
  out: LatencyResult,
): Promise<void> {
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
  const launched =
    sim && markId !== undefined ? await sim.wait((e) => e.event === "launched" && e.id === markId, 5000, "the launch frame").catch(() => undefined) : undefined;
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

export async function waitDeploymentGone(api: Api, id: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `deployment ${id} to end`,
    async () => {
      const r = await api.call<{ id: string }[]>("GET", api.c("/v2/deployments"));
      return r.body.some((d) => d.id === id) ? undefined : true;
    },
    timeoutMs,
    20,
  );
}

export function summary(r: LatencyResult | undefined) {
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

/** A second account's cluster with ONE real Bun agent; `sleep 600` through the exec driver. */
export async function execLatency(url: string, dir: string, iterations: number, startedAt: number): Promise<Record<string, unknown>> {
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
      waitFor(
        "the Bun agent to be active",
        async () => {
          if (a.proc.exitCode !== null) throw new Error(`the agent exited with ${a.proc.exitCode}`);
          const m = (await api.call<Record<string, number>>("GET", api.c("/metrics/snapshot"))).body;
          return m["master/slaves_active"] === 1 ? true : undefined;
        },
        30_000,
        100,
      );
    await agentActive();
    const EVENT_TYPES = ["status_update_event", "deployment_success"];
    // After a control plane reload the agent reconnects by itself (backoff <= 1 s).
    stream = { current: await api.events(EVENT_TYPES), reopen: async () => (await agentActive(), api.events(EVENT_TYPES)) };
    log(`POST → RUNNING on one real Bun agent (exec driver, sleep 600), ${iterations} times`);
    const r = await postToRunning(
      api,
      stream,
      iterations,
      "/bench/exec",
      { cmd: "sleep 600", cpus: 0.01, mem: 16, disk: 0, instances: 1, portDefinitions: [] },
      undefined,
      20_000,
    );
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
