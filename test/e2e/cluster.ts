import { chmodSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentOptions, type AgentProcess, startAgent } from "../../scripts/lib/agent-process.ts";
import { type ControlPlane, startControlPlane } from "../../scripts/lib/control-plane.ts";
import { freePort } from "../../scripts/lib/processes.ts";
import { removeContainersUnder } from "./docker-support.ts";

/**
 * A real local cluster for end-to-end tests: the control plane on workerd (startControlPlane) with
 * shortened liveness timers, plus real agents, all in a temp dir removed at the end.
 */
export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "dcx-e2e-"));
  controlPlane!: ControlPlane;
  port = 0;
  token = "";
  clusterId = "";
  readonly agents: AgentProcess[] = [];

  readonly vars: Record<string, string>;
  readonly protocol: "http" | "https";

  constructor(vars: Record<string, string> = {}, protocol: "http" | "https" = "http") {
    this.vars = { AGENT_TIMEOUT_MS: "3000", AGENT_PING_INTERVAL_MS: "500", DNS_UPSTREAM: "off", ...vars };
    this.protocol = protocol;
    // Tasks run as nobody under a root agent: they must be able to reach their sandbox through
    // the agents' work dirs in here (mkdtemp makes it 0700), as under /var/lib in production.
    chmodSync(this.dir, 0o711);
  }

  get url(): string {
    return `${this.protocol}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.controlPlane = await startControlPlane({ port: this.port, persistDir: join(this.dir, "state"), vars: this.vars, protocol: this.protocol });
  }

  async signUp(email = `e2e-${Date.now()}@example.com`, password = "correct horse battery staple"): Promise<void> {
    const body = await this.api<{ token: string; cluster: { id: string } }>("POST", "/auth/signup", { email, password });
    this.token = body.token;
    this.clusterId = body.cluster.id;
  }

  /** Calls the API as the signed-up user; throws with the server's message on an error status. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${this.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  async joinToken(): Promise<string> {
    return (await this.api<{ token: string }>("POST", `/clusters/${this.clusterId}/agent-tokens`, {})).token;
  }

  startAgent(name: string, opts: Partial<AgentOptions> = {}): AgentProcess {
    const agent = startAgent({ master: this.url, cluster: this.clusterId, workDir: join(this.dir, name), backoffMaxMs: 1000, killTasksOnExit: true, ...opts });
    this.agents.push(agent);
    return agent;
  }

  /**
   * Stops agents (they kill their tasks on SIGTERM here), then the control plane, then any
   * task process still running in this cluster's sandboxes, and its agents' containers: tasks
   * outlive SIGKILLed agents.
   */
  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop("SIGTERM", 10_000)));
    await this.controlPlane?.stop();
    killProcessesUnder(this.dir);
    removeContainersUnder(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** SIGKILLs every process whose working directory lies under `dir` (task sandboxes of a test cluster). */
export function killProcessesUnder(dir: string): number {
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) continue;
      process.kill(Number(pid), "SIGKILL");
      killed++;
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return killed;
}
