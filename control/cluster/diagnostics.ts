import { eq } from "drizzle-orm";
import type { BundleData, DiagnosticCheck, Diagnostics } from "../../protocol/index.ts";
import type { AgentRecord } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import { agentDiagnostics } from "./schema.ts";
import { type AgentLink, send } from "./sessions.ts";

/**
 * Node diagnostics, as DC/OS's diagnostics service shows them: each agent's latest self-checks
 * (connection, cgroups, docker, DNS forwarder, disk) kept in `agent_diagnostics`, plus what only
 * the master can tell: the agent's clock skew, measured from the report's `sentAt` against the
 * master's clock on arrival, and whether its socket is connected now. Bundles ask every
 * connected agent over its socket for its checks and recent log lines (BundleCollector).
 */

/** A clock further off than this is unhealthy: cron schedules, token expiry and logs' timestamps drift with it. */
export const MAX_CLOCK_SKEW_MS = 2_000;

/** One node's diagnostics as the API, the UI and the CLI show them. */
export interface NodeDiagnostics {
  agentId: string;
  hostname: string;
  state: AgentRecord["state"];
  /** True when every check is healthy or disabled. */
  healthy: boolean;
  /** When the agent last reported (epoch ms), or null before its first report. */
  reportedAt: number | null;
  checks: DiagnosticCheck[];
}

/** The master's check of an agent's clock, from a report sent at `sentAt` and received at `now`. */
export function clockCheck(sentAt: number, now: number): DiagnosticCheck {
  const skewMs = Math.round(sentAt - now);
  const message = `the agent's clock is ${Math.abs(skewMs)} ms ${skewMs >= 0 ? "ahead of" : "behind"} the master's (including the report's transit)`;
  return Math.abs(skewMs) > MAX_CLOCK_SKEW_MS
    ? { name: "clock", status: "unhealthy", message: `${message}: run NTP on this machine` }
    : { name: "clock", status: "healthy", message };
}

/** Keeps an agent's latest report; the clock check is the master's own. Replaces the previous one. */
export function recordDiagnostics(db: ClusterDb, agentId: string, report: Pick<Diagnostics, "checks" | "sentAt">, now: number): void {
  const checks = [...report.checks.filter((c) => c.name !== "clock"), clockCheck(report.sentAt, now)];
  const row = { agentId, checks, reportedAt: now };
  db.insert(agentDiagnostics)
    .values(row)
    .onConflictDoUpdate({ target: agentDiagnostics.agentId, set: { checks, reportedAt: now } })
    .run();
}

/** Forgets a removed agent's report. */
export function forgetDiagnostics(db: ClusterDb, agentId: string): void {
  db.delete(agentDiagnostics).where(eq(agentDiagnostics.agentId, agentId)).run();
}

/**
 * The diagnostics of `agents`: their last reports, with the connection check as the master sees
 * it now when the agent is not connected (its own last word would say it was).
 */
export function nodeDiagnostics(db: ClusterDb, agents: AgentRecord[]): NodeDiagnostics[] {
  const reports = new Map(
    db
      .select()
      .from(agentDiagnostics)
      .all()
      .map((r) => [r.agentId, r]),
  );
  return agents.map((agent) => {
    const report = reports.get(agent.id);
    let checks = (report?.checks ?? []) as DiagnosticCheck[];
    if (agent.state !== "active") checks = [masterConnectionCheck(agent), ...checks.filter((c) => c.name !== "connection")];
    return {
      agentId: agent.id,
      hostname: agent.hostname,
      state: agent.state,
      healthy: report !== undefined && checks.every((c) => c.status !== "unhealthy"),
      reportedAt: report?.reportedAt ?? null,
      checks,
    };
  });
}

function masterConnectionCheck(agent: AgentRecord): DiagnosticCheck {
  const since = agent.state === "unreachable" ? agent.unreachableAt : agent.disconnectedAt;
  const when = since === null ? "" : ` since ${new Date(since).toISOString()}`;
  return { name: "connection", status: "unhealthy", message: `the agent is ${agent.state}${when}: the master has no socket to it` };
}

/** One agent's part of a bundle: its answer, or why there is none. */
export type BundlePart = { agentId: string; answer: BundleData } | { agentId: string; error: string };

interface PendingBundle {
  agentId: string;
  ws: AgentLink;
  resolve: (part: BundlePart) => void;
  timer: ReturnType<typeof setTimeout>;
}

export const DEFAULT_BUNDLE_TIMEOUT_MS = 10_000;
/** Bundles collected at once in one object: each holds up to one frame of logs per agent in memory. */
const MAX_BUNDLES_AT_ONCE = 2;

/**
 * Collects bundle answers over the agents' sockets. Requests live in memory only: an answer that
 * arrives for a request the object no longer holds is dropped (the agent keeps nothing open).
 */
export class BundleCollector {
  private readonly pending = new Map<string, PendingBundle>();
  private running = 0;

  /**
   * Asks each agent for its part; resolves once all have answered, failed or timed out (after
   * `timeoutMs`). Undefined when too many bundles run already.
   */
  async collect(agents: { agentId: string; ws: AgentLink }[], timeoutMs = DEFAULT_BUNDLE_TIMEOUT_MS): Promise<BundlePart[] | undefined> {
    if (this.running >= MAX_BUNDLES_AT_ONCE) return undefined;
    this.running++;
    try {
      return await Promise.all(agents.map(({ agentId, ws }) => this.ask(agentId, ws, timeoutMs)));
    } finally {
      this.running--;
    }
  }

  /** A `bundleData` frame from the agent on `ws`. */
  data(ws: AgentLink, frame: BundleData): void {
    const p = this.pending.get(frame.requestId);
    if (p === undefined || p.ws !== ws) return;
    this.settle(frame.requestId, { agentId: p.agentId, answer: frame });
  }

  /** The socket closed: its pending parts fail now instead of at the timeout. */
  socketClosed(ws: AgentLink): void {
    for (const [requestId, p] of this.pending) {
      if (p.ws === ws) this.settle(requestId, { agentId: p.agentId, error: "the agent disconnected before answering" });
    }
  }

  private ask(agentId: string, ws: AgentLink, timeoutMs: number): Promise<BundlePart> {
    const requestId = crypto.randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(requestId, { agentId, error: `the agent did not answer within ${timeoutMs} ms` }), timeoutMs);
      this.pending.set(requestId, { agentId, ws, resolve, timer });
      send(ws, { type: "bundle", requestId });
    });
  }

  private settle(requestId: string, part: BundlePart): void {
    const p = this.pending.get(requestId);
    if (p === undefined) return;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    p.resolve(part);
  }
}
