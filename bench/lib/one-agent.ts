import { join } from "node:path";
import { type AgentOptions, type AgentProcess, startAgent } from "../../scripts/lib/agent-process.ts";
import { type ControlPlane, startControlPlane } from "../../scripts/lib/control-plane.ts";
import { freePort } from "../../scripts/lib/processes.ts";
import { Api } from "./api.ts";
import { onCleanup } from "./cleanup.ts";

/** A control plane, a fresh account on it and one real agent registered: what the one-agent benchmarks time their tasks on. */
export interface OneAgentCluster {
  cp: ControlPlane;
  api: Api;
  agent: AgentProcess;
  /** Stop the agent, then the control plane, now (each also runs at the bench's cleanup otherwise). */
  stopAgent: () => Promise<void>;
  stopControlPlane: () => Promise<void>;
}

export interface OneAgentOptions {
  /** The benchmark's name: in the account's email. */
  name: string;
  vars?: Record<string, string>;
  /** The agent's options beyond master, cluster, token, work dir, hostname `bench` and killing its tasks on exit. */
  agent?: Partial<AgentOptions>;
  /** Runs once the account exists, before the agent starts (cluster settings the agent reads at registration). */
  beforeAgent?: (api: Api) => Promise<void>;
  /** How long the agent may take to stop (its tasks' kill grace): 10 s unless given. */
  agentStopMs?: number;
}

/** Starts a control plane under `dir` (state in `dir/state`, the agent's in `dir/agent`), signs up, and registers one agent. */
export async function oneAgentCluster(dir: string, opts: OneAgentOptions): Promise<OneAgentCluster> {
  const cp = await startControlPlane({ port: await freePort(), persistDir: join(dir, "state"), logLevel: "error", vars: opts.vars });
  const stopControlPlane = onCleanup("control plane", () => cp.stop());
  const api = new Api(cp.url);
  await api.signUp(`bench-${opts.name}-${Date.now()}@example.com`);
  await opts.beforeAgent?.(api);
  const agent = startAgent({
    master: cp.url,
    cluster: api.clusterId,
    token: await api.joinToken(),
    workDir: join(dir, "agent"),
    hostname: "bench",
    killTasksOnExit: true,
    ...opts.agent,
  });
  const stopAgent = onCleanup("agent", () => agent.stop("SIGTERM", opts.agentStopMs ?? 10_000));
  await agent.waitForEvent("registered");
  return { cp, api, agent, stopAgent, stopControlPlane };
}
