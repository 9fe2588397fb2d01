import { resourceUrls } from "../packages/resource.ts";
import { DurableObject } from "cloudflare:workers";
import { CloseCode, decodeProxyData, parseAgentFrame, PROTOCOL_VERSION, type ReconnectWindow, type Register } from "../../protocol/index.ts";
import { exportAgentCredentials, recordAgentCredential } from "../accounts/agent-credentials.ts";
import { hashToken, newToken } from "../crypto.ts";
import { agentQuotaRefusal, appQuotaGuard } from "./quotas.ts";
import { ClusterCommands, type CommandName, isCommandName } from "./acting.ts";
import { type Actor, AuditTrail, type AuditView, auditRows, recordAudit } from "./audit.ts";
import {
  activeSessions,
  agentCountBound,
  agentCredentialHashes,
  agentIdForCredential,
  createAgent,
  deleteAgent,
  getAgent,
  listAgents,
  markDisconnected,
  nextAgentId,
  reattachAgent,
  updateAgentResources,
  type AgentRecord,
} from "./agents.ts";
import { openClusterDb, type ClusterDb } from "./db.ts";
import { AgentAdmission } from "./admission.ts";
import { admissionRate } from "../gateway/admission.ts";
import { Coordinator, UNREACHABLE_TIMER } from "./coordinator.ts";
import { ClusterDns, type DnsSettings, type MesosDnsQuery } from "./cluster-dns.ts";
import type { DnsSettingsChange } from "../contract/accounts.ts";
import { ClusterVips } from "./cluster-vips.ts";
import type { Vips } from "../../protocol/index.ts";
import type { DnsSnapshotReply } from "../dns/index.ts";
import { EventBus, MAX_EVENT_SUBSCRIBERS } from "./events.ts";
import { FrameworkRegistry } from "./frameworks/registry.ts";
import { readCallText } from "./frameworks/external/read-call.ts";
import { FrameworkMailbox, frameworkTag, isStreamAttachment, sendEvent, type StreamAttachment } from "./frameworks/external/mailbox.ts";
import { SchedulerCallQueue } from "./frameworks/external/call-queue.ts";
import { disconnected, operatorTeardown, subscribe } from "./frameworks/external/scheduler.ts";
import { errorEvent, subscribedEvent } from "./frameworks/external/status.ts";
import { allFrameworks, getFramework, forgetFrameworkTasks, observeFrameworks, type FrameworkView } from "./frameworks/external/store.ts";
import { outstandingOffers } from "./allocator/offers.ts";
import { OPERATOR_SUBSCRIBE_HEADER, OperatorFeed } from "./operator-feed.ts";
import { MAX_WEIGHTED_ROLES, roleWeights, updateRoleWeights, type WeightInfo } from "./allocator/weights.ts";
import { decodeSubscribe, MASTER_HOST_HEADER, PRINCIPAL_HEADER, STREAM_HEADER, STREAM_ID_HEADER, SUBSCRIBE_HEADER } from "./frameworks/external/stream.ts";
import { HISTORY_TIMER, type HistoryResolution, historyDueBy, historySamples, recordHistory } from "./history.ts";
import type { App } from "./frameworks/marathon/app-definition.ts";
import { getApp, getVersion, listVersions } from "./frameworks/marathon/apps.ts";
import * as marathon from "./frameworks/marathon/commands.ts";
import { createSecret, deleteSecret, listSecrets, type SecretInfo, type SecretRefusal, updateSecret } from "./secrets.ts";
import type { Outcome } from "./frameworks/marathon/commands.ts";
import type { GroupSpec } from "./frameworks/marathon/group-body.ts";
import * as groups from "./frameworks/marathon/group-commands.ts";
import { updateApps } from "./frameworks/marathon/bulk-commands.ts";
import { tasksText } from "./frameworks/marathon/task-text.ts";
import { deploymentsJson } from "./frameworks/marathon/deployment-views.ts";
import { APP_LIST_EMBEDS, APP_SHOW_EMBEDS, type AppEmbed, type GroupEmbed } from "./frameworks/marathon/embeds.ts";
import { groupInfo, groupVersions } from "./frameworks/marathon/group-views.ts";
import { forgetCheckResults } from "./frameworks/marathon/health.ts";
import { appInfos, marathonTasks, queueJson } from "./frameworks/marathon/views.ts";
import * as metronome from "./frameworks/metronome/commands.ts";
import type { JobSpec, ScheduleSpec } from "./frameworks/metronome/job-spec.ts";
import { type Embed, jobsJson, oneJobJson, oneRunJson, queueJson as jobQueueJson, runsJson, schedulesJson } from "./frameworks/metronome/views.ts";
import { type AgentUsage, type TaskRecord, collectGarbage, countByState, endedTasks, getTask, liveTasks, observeTasks, usageByAgent } from "./tasks.ts";
import { LIVENESS_TIMER, livenessDueBy, sweepLiveness } from "./liveness.ts";
import { BundleCollector, forgetDiagnostics, nodeDiagnostics, recordDiagnostics, type BundlePart, type NodeDiagnostics } from "./diagnostics.ts";
import { ClusterMetrics } from "./metrics.ts";
import type { MetricFamily } from "../../protocol/prometheus.ts";
import { type LogOpen, LogRelay, type LogRequest } from "./log-relay.ts";
import { counters, ensureMeta, getMeta, increment, setMeta } from "./meta.ts";
import { AgentLinks, type GatewayLink, SessionOrder, closeQuietly, frameText, rejectUpgrade, send, sendError } from "./sessions.ts";
import { Gateways } from "./gateways.ts";
import type { AdmissionReport, GatewayEvent } from "../gateway/wire.ts";
import { openTaskLogs } from "./task-logs.ts";
import { PROXY_CALL_HEADER, proxyAgentFrame, upgradeProxied } from "./service-proxy/upgrade.ts";
import { type ProxyCall, ServiceProxy } from "./service-proxy/service-proxy.ts";
import { type ProxyAnswer, ProxyTunnel } from "./service-proxy/tunnel.ts";
import {
  addRepository,
  allPackages,
  claimRefresh,
  deleteRepository,
  type FetchedRepository,
  findPackage,
  listRepositories,
  recordRefresh,
} from "./package-repositories.ts";
import { searchPackages } from "../packages/search.ts";
import type { PackageDefinition } from "../packages/universe.ts";
import { AlarmArm, scheduleAt, scheduleNoLaterThan, takeDue } from "./timers.ts";

/** Which tasks a snapshot lists: every live and recently ended one, one agent's live ones, or none. */
export type SnapshotTasks = "all" | "none" | { agentId: string };

/** What the Worker needs to render Mesos-style state. */
export interface ClusterSnapshot {
  masterId: string;
  createdAt: number;
  agents: AgentRecord[];
  counters: Record<string, number>;
  /** Live tasks by state. */
  tasksByState: Record<string, number>;
  /** What live tasks hold, per agent id. */
  usage: Record<string, AgentUsage>;
  /** Live tasks, and the most recently ended ones (Mesos `completed_tasks`). */
  tasks: TaskRecord[];
  completedTasks: TaskRecord[];
  /** External frameworks (scheduler API), torn-down ones included, with their outstanding offers. */
  frameworks: FrameworkView[];
}

const GC_TIMER = "gc";
/** Meta key set once the agents' credentials were copied into D1 (exportCredentialsOnce). */
const CREDENTIALS_EXPORTED = "agent_credentials_exported_at";
const GC_INTERVAL_MS = 3600_000;
/** Agents may resend an update after a long partition; its id is remembered this long. */
const UPDATE_ID_RETENTION_MS = 7 * 24 * 3600_000;
/** Ended tasks stay visible (lastTaskFailure, completed tasks, logs) this long. */
const ENDED_TASK_RETENTION_MS = 24 * 3600_000;
const KEEPALIVE_MS = 15_000;
/** Mesos keeps 1,000 completed tasks per framework (`--max_completed_tasks_per_framework`). */
const COMPLETED_TASKS_SHOWN = 1000;

/**
 * One cluster's coordinator: the single writer for its agents (and, later, its tasks). A thin
 * shell: capability modules own the tables; this class wires events and RPC to them.
 */
/** How many sessions of a gateway batch are opened per turn of the object (see gatewayEvents). */
const OPENS_PER_TURN = 16;

export class Cluster extends DurableObject<Env> {
  private db!: ClusterDb;
  private coordinator!: Coordinator;
  private alarmArm!: AlarmArm;
  /** Every agent session, each reached through the gateway holding its socket (control/gateway/). */
  private sockets!: AgentLinks;
  private gateways!: Gateways;
  private readonly sessionOrder = new SessionOrder((sessionId, error) => this.sessionFailed(sessionId, error));
  private readonly events = new EventBus();
  private readonly logRelay = new LogRelay();
  private readonly tunnel: ProxyTunnel;
  private serviceProxy!: ServiceProxy;
  private readonly bundles = new BundleCollector();
  /** Names the change an acting call (acting.ts) is about to make, for its audit row. */
  readonly auditTrail = new AuditTrail();
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private dns!: ClusterDns;
  private vips!: ClusterVips;
  private metrics!: ClusterMetrics;
  private frameworks!: FrameworkRegistry;
  private schedulerCalls!: SchedulerCallQueue;
  private readonly feed: OperatorFeed;
  private admission!: AgentAdmission;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.tunnel = new ProxyTunnel({ answerTimeoutMs: Number(env.SERVICE_PROXY_TIMEOUT_MS) || undefined });
    this.feed = new OperatorFeed(ctx);
    ctx.blockConcurrencyWhile(async () => {
      this.db = await openClusterDb(ctx.storage);
      ensureMeta(this.db, "master_id", () => crypto.randomUUID());
      ensureMeta(this.db, "created_at", () => String(Date.now()));
      this.alarmArm = new AlarmArm(this.db, ctx.storage);
      this.gateways = new Gateways(env, this.db, ctx.id.name ?? "", (sessionIds) => this.undelivered(sessionIds));
      this.sockets = new AgentLinks(this.db, this.gateways);
      this.admission = new AgentAdmission(this.db, admissionRate(env.AGENT_ADMISSION_PER_SECOND));
      this.serviceProxy = new ServiceProxy(this.db, this.sockets, this.tunnel);
      this.dns = new ClusterDns(this.db);
      this.vips = new ClusterVips(this.db, this.sockets);
      this.metrics = new ClusterMetrics(this.db);
      // Every committed change drops the DNS zone and brings the agents' VIP tables up to date.
      this.frameworks = new FrameworkRegistry(new FrameworkMailbox(ctx), this.offerTimeoutMs);
      const committed = () => {
        this.dns.changed();
        this.vips.changed();
      };
      this.coordinator = new Coordinator(ctx, this.db, this.events, this.alarmArm, this.sockets, this.frameworks, committed, this.metrics);
      this.schedulerCalls = new SchedulerCallQueue(this.coordinator, ctx.storage, this.frameworks.mailbox);
      // The operator API's stream hears of every task and framework written, from the modules that write them.
      this.coordinator.feed = this.feed;
      observeTasks(this.db, (task, added) => this.feed.task(task, added));
      observeFrameworks(this.db, (record, previous) => this.feed.framework(record, previous));
      // Quotas first: a change they refuse rolls back before its audit row is written. Only a
      // user's command (run through `act`) can add apps or instances, so status batches, alarm
      // rounds and scheduler calls skip the count.
      const quota = appQuotaGuard(env);
      this.coordinator.guard = (db) => {
        const quotaCheck = this.auditTrail.acting ? quota(db) : undefined;
        const auditCheck = this.auditTrail.guard(db);
        return () => quotaCheck?.() ?? auditCheck();
      };
      // Armed at start for the earliest timer: a stop between a commit and its arming loses nothing.
      scheduleNoLaterThan(this.db, GC_TIMER, Date.now() + GC_INTERVAL_MS);
      await this.alarmArm.arm();
      await this.exportCredentialsOnce();
    });
  }

  /**
   * The first time this object runs with D1 keeping agent credentials, it copies its agents'
   * credential hashes there (agents that joined before keep working, checked at the edge from
   * then on). A failure is logged and tried again the next time the object starts.
   */
  private async exportCredentialsOnce(): Promise<void> {
    const clusterId = this.ctx.id.name;
    if (clusterId === undefined || getMeta(this.db, CREDENTIALS_EXPORTED) !== undefined) return;
    try {
      await exportAgentCredentials(this.env.DB, clusterId, agentCredentialHashes(this.db));
      setMeta(this.db, CREDENTIALS_EXPORTED, String(Date.now()));
    } catch (error) {
      console.warn(JSON.stringify({ event: "agent_credentials_export_failed", clusterId, error: error instanceof Error ? error.message : String(error) }));
    }
  }

  private get timeoutMs(): number {
    return Number(this.env.AGENT_TIMEOUT_MS) || 75_000;
  }

  private get pingIntervalMs(): number {
    return Number(this.env.AGENT_PING_INTERVAL_MS) || 15_000;
  }

  private get offerTimeoutMs(): number {
    return (Number(this.env.OFFER_TIMEOUT_SECONDS) || 60) * 1000;
  }

  /** The WebSocket upgrades of framework, operator and service-proxy streams; agents connect to their gateway (control/gateway/). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    if (request.headers.has(SUBSCRIBE_HEADER)) return this.subscribeFramework(request.headers);
    if (request.headers.has(PROXY_CALL_HEADER)) return upgradeProxied(request.headers, this.serviceProxy, this.tunnel);
    if (request.headers.has(OPERATOR_SUBSCRIBE_HEADER)) return this.subscribeOperator();
    return rejectUpgrade("agents connect through their gateway");
  }

  /**
   * RPC from gateway `gateway`: its agent sockets' opens, frames and closes, in the order it
   * saw them. Each session's events run in order; sessions run side by side, so the status
   * frames of one batch are committed together. Returns once they are queued: what the gateway
   * gathers meanwhile comes in its next call. A reconnect storm brings batches of thousands of
   * new sessions, each opened and then registered; started all at once, their synchronous parts
   * ran back to back for seconds while an API call that came meanwhile waited behind them. So
   * after every OPENS_PER_TURN opens the rest of the batch waits a turn; frames of sessions
   * already open (status frames, the bulk of a placement) go on without a pause, so a batch of
   * them still shares one group commit. `admission` counts the sessions the gateway held and
   * turned away over its share of the admission rate since its last call (control/gateway/admission.ts).
   */
  async gatewayEvents(gateway: number, events: GatewayEvent[], admission: AdmissionReport = { held: 0, refused: 0 }): Promise<void> {
    if (admission.held > 0) increment(this.db, "counter:slave_registrations_held", admission.held);
    if (admission.refused > 0) increment(this.db, "counter:slave_registrations_deferred", admission.refused);
    let opens = 0;
    for (const event of events) {
      this.sessionOrder.run(event.sessionId, () => this.gatewayEvent(gateway, event));
      if (event.kind === "open" && ++opens % OPENS_PER_TURN === 0) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
  }

  /** RPC: how many gateways the Worker spreads this cluster's agents over (G). */
  gatewayCount(): number {
    return this.gateways.count;
  }

  private async gatewayEvent(gateway: number, event: GatewayEvent): Promise<void> {
    if (event.kind === "open") return this.agentOpened(gateway, event);
    const link = this.sockets.session(event.sessionId);
    if (event.kind === "close") return link ? this.agentClosed(link) : undefined;
    // A session this object does not know (opened before a restart and never registered): the agent starts over.
    if (!link) return this.sockets.close(event.sessionId, CloseCode.RETRY, "session unknown to the master; reconnect");
    if (link.readyState !== WebSocket.OPEN) return;
    return this.agentMessage(link, event.kind === "text" ? event.text : event.data);
  }

  /** A gateway accepted an agent's socket, authenticated by the Worker (join token) or checked here (credential). */
  private async agentOpened(gateway: number, event: Extract<GatewayEvent, { kind: "open" }>): Promise<void> {
    this.gateways.fit(0, gateway);
    const att = { sessionId: event.sessionId, connectedAt: event.connectedAt };
    if (event.credential) {
      const agentId = agentIdForCredential(this.db, await hashToken(event.credential));
      if (!agentId) return this.sockets.close(event.sessionId, CloseCode.POLICY, "agent credential is not valid: the agent may have been removed");
      this.sockets.opened(att, gateway).bind(agentId);
    } else if (event.joinTokenId) {
      this.sockets.opened({ ...att, joinTokenId: event.joinTokenId }, gateway);
    } else {
      return this.sockets.close(event.sessionId, CloseCode.POLICY, "missing credential");
    }
    // A session that never registers is closed by the liveness sweep.
    livenessDueBy(this.db, event.connectedAt + this.timeoutMs);
    await this.alarmArm.arm();
  }

  /** One frame of an agent's session. */
  private async agentMessage(ws: GatewayLink, message: string | ArrayBuffer): Promise<void> {
    // The service proxy's body chunks are the protocol's only binary frames (protocol/proxy.ts).
    if (typeof message !== "string" && ws.agentId) {
      const data = decodeProxyData(new Uint8Array(message));
      return data ? this.tunnel.data(ws, data) : this.invalidFrame(ws, "binary frame is not a proxy data frame");
    }
    const frame = frameText(message);
    if ("error" in frame) return this.invalidFrame(ws, frame.error);
    const parsed = parseAgentFrame(frame.text);
    if (!parsed.ok) return this.invalidFrame(ws, parsed.message, parsed.details);
    const msg = parsed.value;
    if (msg.type === "register") return this.register(ws, msg);
    if (msg.type === "error") {
      // The agent could not use a frame of ours: log it; answering would risk an error loop.
      console.warn(JSON.stringify({ event: "agent_reported_error", agentId: ws.agentId, message: msg.message }));
      return;
    }
    if (!ws.agentId) return this.invalidFrame(ws, `'${msg.type}' before 'register': register first`);
    if (msg.type === "resources") {
      updateAgentResources(this.db, ws.agentId, msg.resources, msg.attributes);
      return;
    }
    if (msg.type === "logData") return this.logRelay.data(ws, msg);
    if (msg.type === "diagnostics") return recordDiagnostics(this.db, ws.agentId, msg, Date.now());
    if (msg.type === "bundleData") return this.bundles.data(ws, msg);
    if (msg.type === "status") return this.coordinator.status(ws, ws.agentId, msg.updates);
    proxyAgentFrame(this.tunnel, ws, msg);
  }

  /** An agent's socket closed (its gateway reported it): its session ends, and the agent is disconnected. */
  private async agentClosed(ws: GatewayLink): Promise<void> {
    this.sockets.ended(ws);
    this.logRelay.socketClosed(ws);
    this.tunnel.socketClosed(ws);
    this.bundles.socketClosed(ws);
    if (!ws.agentId) return;
    const now = Date.now();
    if (markDisconnected(this.db, ws.agentId, ws.sessionId, now)) {
      livenessDueBy(this.db, now + this.timeoutMs);
      await this.alarmArm.arm();
    }
  }

  /**
   * Tells every connected agent that understands it the cluster's reconnect window, once it has
   * grown enough since last told (admission.ts): agents that joined a smaller cluster would
   * otherwise come back from a deploy over the short window they were given then, all at once.
   */
  private announceWindow(windowMs: number, told: GatewayLink): void {
    const grown = this.admission.grown(windowMs);
    if (grown === undefined) return;
    const frame = JSON.stringify({ type: "window", reconnectWindowMs: grown } satisfies ReconnectWindow);
    for (const link of this.sockets.all().values()) if (link.resumes && link !== told) link.send(frame);
  }

  /** Frames to these sessions could not reach their gateway (it was reset): their sockets are gone, so their sessions end here. */
  private undelivered(sessionIds: string[]): void {
    for (const sessionId of sessionIds) {
      const link = this.sockets.session(sessionId);
      if (link) void this.agentClosed(link);
    }
  }

  /** An agent's event could not be handled: the session is closed, and the agent reconnects and resends what was not acked. */
  private sessionFailed(sessionId: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    console.error(JSON.stringify({ event: "agent_event_failed", sessionId, message }));
    this.sockets.close(sessionId, CloseCode.RETRY, "the master could not apply a frame; reconnect and resend");
  }

  /** Framework and operator streams only carry events to the Worker; nothing they send means anything. */
  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const stream: unknown = ws.deserializeAttachment();
    closeQuietly(ws, code === 1005 || code === 1006 ? CloseCode.NORMAL : code, reason);
    if (isStreamAttachment(stream)) await this.coordinator.mutate((ctx) => disconnected(ctx, stream.frameworkId, stream.streamId));
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1006, "error");
  }

  /** Every timer of the object. Each handler recomputes from storage, so a retried alarm is harmless. */
  override async alarm(): Promise<void> {
    this.alarmArm.fired();
    const now = Date.now();
    const due = new Set(takeDue(this.db, now));
    if (due.has(LIVENESS_TIMER)) {
      // The sessions active before the gateways are asked: one that registers meanwhile is not taken for lost.
      const activeBefore = activeSessions(this.db);
      const reports = await this.gateways.reports();
      const close = (sessionId: string, code: number, reason: string) => this.sockets.close(sessionId, code, reason);
      const grace = this.admission.reconnectGrace();
      const lost = this.ctx.storage.transactionSync(() => sweepLiveness(this.db, { ...reports, activeBefore }, Date.now(), this.timeoutMs, close, grace));
      // Sent with the commit of what the loss does to the agents' tasks.
      for (const agentId of lost) this.feed.emit({ type: "AGENT_REMOVED", agentId });
      await this.coordinator.agentsUnreachable(lost);
    }
    if (due.has(UNREACHABLE_TIMER)) this.coordinator.expireUnreachable(now);
    if (due.has(HISTORY_TIMER)) recordHistory(this.db, now);
    if (due.has(GC_TIMER)) {
      collectGarbage(this.db, now, UPDATE_ID_RETENTION_MS, ENDED_TASK_RETENTION_MS);
      forgetCheckResults(this.db);
      forgetFrameworkTasks(this.db);
      scheduleAt(this.db, GC_TIMER, now + GC_INTERVAL_MS);
    }
    // Every alarm ends with a round: due launches, replacements, finished deployments.
    await this.coordinator.mutate(() => null);
  }

  /** RPC: every agent of the cluster. */
  agents(): AgentRecord[] {
    return listAgents(this.db);
  }

  /** RPC: one agent, or undefined. */
  agent(id: string): AgentRecord | undefined {
    return getAgent(this.db, id);
  }

  /** RPC: one task, live or recently ended (the UI's task page), or undefined. */
  task(id: string): TaskRecord | undefined {
    return getTask(this.db, id);
  }

  /**
   * RPC: what `/master/state`, `/metrics/snapshot` and the UI's overview and nodes are rendered
   * from. `tasks` narrows the task lists to what the caller shows: every task, one agent's, or
   * none (counts and usage come without them).
   */
  snapshot(tasks: SnapshotTasks = "all"): ClusterSnapshot {
    const scoped = tasks !== "none";
    const agentId = typeof tasks === "object" ? tasks.agentId : undefined;
    return {
      masterId: ensureMeta(this.db, "master_id", () => crypto.randomUUID()),
      createdAt: Number(ensureMeta(this.db, "created_at", () => String(Date.now()))),
      agents: listAgents(this.db),
      counters: counters(this.db, "counter:"),
      tasksByState: countByState(this.db),
      usage: Object.fromEntries(usageByAgent(this.db)),
      tasks: scoped ? liveTasks(this.db, agentId === undefined ? {} : { agentId }) : [],
      completedTasks: tasks === "all" ? endedTasks(this.db, COMPLETED_TASKS_SHOWN) : [],
      frameworks: this.frameworkViews(),
    };
  }

  /** RPC: the cluster's Prometheus metrics (`/c/:cluster/metrics/prometheus` renders them). */
  metricFamilies(): MetricFamily[] {
    return this.metrics.collect();
  }

  private frameworkViews(): FrameworkView[] {
    const offers = outstandingOffers(this.db);
    return allFrameworks(this.db).map((f) => ({
      ...f,
      offers: offers.filter((o) => o.framework === f.id).map(({ id, agentId, resources }) => ({ id, agentId, resources })),
    }));
  }

  /** RPC: opens a request for a task's output on its agent (`/v2/tasks/:id/logs`). */
  taskLogs(request: LogRequest): Promise<LogOpen> {
    return openTaskLogs(this.db, this.sockets, this.logRelay, request);
  }

  /**
   * RPC: one request through the service proxy (`/service/<name>/…`, `/public/…`), its body
   * streamed to the task as the agent makes room; answers with the task's status, headers and body.
   */
  serviceRequest(call: ProxyCall, body: ReadableStream<Uint8Array> | null): Promise<ProxyAnswer> {
    return this.serviceProxy.request(call, body);
  }

  /** RPC: the cluster's samples at one resolution, oldest first (`/history/minute`, `/history/hour`). */
  history(resolution: HistoryResolution) {
    return historySamples(this.db, resolution, Date.now());
  }

  /** RPC: removes an agent; its credential stops working, its socket is closed, its tasks are replaced. */
  async removeAgent(id: string): Promise<boolean> {
    // An unknown agent is a Failure, so nothing (no audit row either) is written for it.
    const outcome = await this.coordinator.mutate((ctx) => {
      this.coordinator.tasksGone(ctx, id);
      forgetDiagnostics(ctx.db, id);
      this.feed.emit({ type: "AGENT_REMOVED", agentId: id });
      return deleteAgent(ctx.db, id) ? ({ ok: true, value: true } as const) : marathon.fail("not_found", `Agent '${id}' does not exist`);
    });
    const existed = outcome.ok;
    const ws = this.sockets.get(id);
    this.sockets.delete(id);
    if (ws) closeQuietly(ws, CloseCode.REMOVED, "agent removed from the cluster");
    return existed;
  }

  /** RPC: every agent's latest self-checks, with the master's clock and connection checks. */
  diagnostics(): NodeDiagnostics[] {
    return nodeDiagnostics(this.db, listAgents(this.db));
  }

  /**
   * RPC: asks every connected agent for its checks and recent log lines, waiting up to
   * `timeoutMs` for each; undefined when the object is already collecting as many bundles as it allows.
   */
  diagnosticsBundle(timeoutMs: number): Promise<BundlePart[] | undefined> {
    const agents = [...this.sockets.all()].map(([agentId, ws]) => ({ agentId, ws }));
    return this.bundles.collect(agents, timeoutMs);
  }

  // --- Marathon (/v2) -------------------------------------------------------------------

  /** RPC: creates an app; returns Marathon's POST body (the app, without tasks) in the same call. */
  marathonCreate(app: App) {
    return this.coordinator.mutate((ctx) => {
      const r = marathon.createApp(ctx, app);
      if (!r.ok) return r;
      const [info] = appInfos(ctx.db, [r.value.stored]);
      return { ok: true as const, value: { deploymentId: r.value.deploymentId, version: r.value.version, app: info } };
    });
  }

  marathonReplace(app: App, force: boolean) {
    return this.coordinator.mutate((ctx) => marathon.replaceApp(ctx, app, force));
  }

  marathonPatch(id: string, patch: Record<string, unknown>, force: boolean) {
    return this.coordinator.mutate((ctx) => marathon.patchApp(ctx, id, patch, force));
  }

  marathonDelete(id: string, force: boolean) {
    return this.coordinator.mutate((ctx) => marathon.removeApp(ctx, id, force));
  }

  marathonRestart(id: string, force: boolean) {
    return this.coordinator.mutate((ctx) => marathon.restartApp(ctx, id, force));
  }

  marathonKill(ids: string[], scale: boolean, appId?: string) {
    return this.coordinator.mutate((ctx) => {
      const r = marathon.killTasks(ctx, ids, scale, appId);
      if (!r.ok) return r;
      const json = new Map(marathonTasks(ctx.db).map((t) => [t.id, t]));
      return { ok: true as const, value: { tasks: r.value.tasks.flatMap((t) => json.get(t.id) ?? []), deployment: r.value.deployment } };
    });
  }

  marathonCancelDeployment(id: string, force: boolean) {
    return this.coordinator.mutate((ctx) => marathon.cancelDeployment(ctx, id, force));
  }

  marathonResetDelay(id: string) {
    return this.coordinator.mutate((ctx) => marathon.resetAppDelay(ctx, id));
  }

  marathonApps(embed: readonly AppEmbed[] = APP_LIST_EMBEDS) {
    return appInfos(this.db, undefined, embed);
  }

  marathonApp(id: string, embed: readonly AppEmbed[] = APP_SHOW_EMBEDS) {
    const stored = getApp(this.db, id);
    return stored ? appInfos(this.db, [stored], embed)[0] : undefined;
  }

  /** RPC: a group as `GET /v2/groups/{id}` shows it, or undefined when no app lies inside it. */
  marathonGroup(id: string, embed: { group: readonly GroupEmbed[]; app: readonly AppEmbed[] }) {
    return groupInfo(this.db, id, { group: new Set(embed.group), app: new Set(embed.app) });
  }

  marathonGroupVersions(id: string) {
    return groupVersions(this.db, id);
  }

  /** RPC: removes every app inside a group, in one transaction. */
  marathonDeleteGroup(id: string, force: boolean) {
    return this.coordinator.mutate((ctx) => marathon.removeGroup(ctx, id, force));
  }

  marathonCreateGroup(spec: GroupSpec) {
    return this.coordinator.mutate((ctx) => groups.createGroup(ctx, spec));
  }
  marathonUpdateGroup(spec: GroupSpec, force: boolean) {
    return this.coordinator.mutate((ctx) => groups.updateGroup(ctx, spec, force));
  }
  marathonScaleGroup(id: string, factor: number, force: boolean) {
    return this.coordinator.mutate((ctx) => groups.scaleGroup(ctx, id, factor, force));
  }
  marathonGroupDryRun(spec: GroupSpec) {
    return groups.groupDryRun(this.db, spec);
  }
  marathonUpdateApps(bodies: Record<string, unknown>[], partial: boolean, force: boolean) {
    return this.coordinator.mutate((ctx) => updateApps(ctx, bodies, partial, force));
  }
  marathonTasksText(appId?: string) {
    return tasksText(this.db, appId);
  }

  marathonTasks(appId?: string) {
    return marathonTasks(this.db, appId);
  }

  marathonDeployments() {
    return deploymentsJson(this.db, Date.now());
  }

  marathonQueue(lastUnusedOffers = false) {
    return queueJson(this.db, Date.now(), lastUnusedOffers);
  }

  marathonVersions(id: string): string[] | undefined {
    return getApp(this.db, id) ? listVersions(this.db, id) : undefined;
  }

  marathonVersion(id: string, version: string): App | undefined {
    return getVersion(this.db, id, version);
  }

  // --- Metronome (/v1/jobs): commands run like every change, views read the store ----------

  jobCreate(spec: JobSpec, schedules?: ScheduleSpec[]) {
    return this.coordinator.mutate((ctx) => metronome.createJob(ctx, spec, schedules));
  }

  jobReplace(spec: JobSpec, schedules?: ScheduleSpec[]) {
    return this.coordinator.mutate((ctx) => metronome.replaceJob(ctx, spec, schedules));
  }

  jobDelete(id: string, stopCurrentJobRuns: boolean) {
    return this.coordinator.mutate((ctx) => metronome.removeJob(ctx, id, stopCurrentJobRuns));
  }

  jobStartRun(jobId: string) {
    return this.coordinator.mutate((ctx) => metronome.startJobRun(ctx, jobId));
  }

  jobStopRun(jobId: string, runId: string) {
    return this.coordinator.mutate((ctx) => metronome.stopJobRun(ctx, jobId, runId));
  }

  jobScheduleCreate(jobId: string, spec: ScheduleSpec) {
    return this.coordinator.mutate((ctx) => metronome.createSchedule(ctx, jobId, spec));
  }

  jobScheduleReplace(jobId: string, spec: ScheduleSpec) {
    return this.coordinator.mutate((ctx) => metronome.replaceSchedule(ctx, jobId, spec));
  }

  jobScheduleDelete(jobId: string, id: string) {
    return this.coordinator.mutate((ctx) => metronome.removeSchedule(ctx, jobId, id));
  }

  jobs(embeds: Embed[]) {
    return jobsJson(this.db, new Set(embeds));
  }

  job(id: string, embeds: Embed[]) {
    return oneJobJson(this.db, id, new Set(embeds));
  }

  jobRuns(jobId: string) {
    return runsJson(this.db, jobId);
  }

  jobRun(jobId: string, runId: string) {
    return oneRunJson(this.db, jobId, runId);
  }

  jobSchedules(jobId: string) {
    return schedulesJson(this.db, jobId);
  }

  jobQueue() {
    return jobQueueJson(this.db);
  }

  /**
   * RPC, with the Worker var DCX_TEST_HOOKS "on" only: resets this object as a deploy of new code
   * does (memory lost, every socket dropped, storage kept), for reconnect-storm benchmarks.
   */
  testReset(): void {
    if (String(this.env.DCX_TEST_HOOKS) !== "on") throw new Error("test hooks are off (DCX_TEST_HOOKS)");
    this.ctx.abort("reset by a test hook (DCX_TEST_HOOKS)");
  }

  /** RPC: moves the job schedule clock forward, in tests only (DCX_TEST_CLOCK). */
  jobClockAdvance(ms: number) {
    return this.coordinator.mutate((ctx) => metronome.advanceClock(ctx, ms, String(this.env.DCX_TEST_CLOCK) === "on"));
  }

  // --- Mesos v1 scheduler API (external frameworks) ------------------------------------------

  /** RPC: the roles that carry a weight (Mesos `/weights`, GET_WEIGHTS). */
  roleWeights(): WeightInfo[] {
    return roleWeights(this.db);
  }

  /** RPC: sets role weights (UPDATE_WEIGHTS); a round follows under them at once. The weights after it, or a Failure. */
  updateRoleWeights(weights: WeightInfo[]): Promise<Outcome<WeightInfo[]>> {
    return this.coordinator.mutate((ctx) =>
      updateRoleWeights(ctx.db, weights)
        ? { ok: true as const, value: roleWeights(ctx.db) }
        : marathon.fail("malformed", `At most ${MAX_WEIGHTED_ROLES} roles may carry a weight.`),
    );
  }

  /**
   * RPC: one scheduler call other than SUBSCRIBE, from the subscription `streamId`: the request's
   * text as the framework sent it (control/api/scheduler.ts), read and checked here, once
   * (read-call.ts): 400 for one that is not a call, as the Worker answers a SUBSCRIBE.
   */
  async schedulerCall(callText: string, streamId: string): Promise<Outcome<{ status: 200 | 202; closeStream?: boolean }>> {
    const read = readCallText(callText);
    if (!read.ok) return read;
    const call = read.value;
    if (call.type === "SUBSCRIBE") return marathon.fail("malformed", `A SUBSCRIBE call must not send ${STREAM_ID_HEADER}: it opens a new stream.`);
    // Calls arriving together share a transaction (call-queue.ts); acks alone cost no round.
    const r = await this.schedulerCalls.submit(call, streamId);
    // TEARDOWN ends the subscription: the Worker ends the framework's response when its socket closes.
    if (r.ok && r.value.closeStream)
      for (const ws of this.frameworks.mailbox.streams(call.framework_id?.value ?? "")) closeQuietly(ws, CloseCode.NORMAL, "framework torn down");
    return r;
  }

  /** RPC: an operator tears a framework down: its tasks are killed, its stream ends. */
  async teardownFramework(frameworkId: string): Promise<Outcome<null>> {
    const r = await this.coordinator.mutate((ctx) => operatorTeardown(ctx, frameworkId));
    if (r.ok) for (const ws of this.frameworks.mailbox.streams(frameworkId)) closeQuietly(ws, CloseCode.NORMAL, "framework torn down by an operator");
    return r;
  }

  private get heartbeatSeconds(): number {
    return Number(this.env.FRAMEWORK_HEARTBEAT_SECONDS) || 15;
  }

  /**
   * SUBSCRIBE, from the Worker: writes the framework, accepts the socket its stream's events go
   * through (closing an older subscription's), sends SUBSCRIBED first, and runs a round, whose
   * offers and due updates follow on the same socket. A framework torn down gets ERROR.
   */
  private async subscribeFramework(headers: Headers): Promise<Response> {
    const body = decodeSubscribe(headers.get(SUBSCRIBE_HEADER) ?? "");
    const streamId = headers.get(STREAM_HEADER) ?? "";
    if (!body || !streamId) return Response.json({ message: "malformed SUBSCRIBE" }, { status: 400 });
    const host = headers.get(MASTER_HOST_HEADER) ?? "";
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const id = body.framework_info.id?.value;
    if (id !== undefined && getFramework(this.db, id)?.state === "removed") {
      server.accept();
      sendEvent(server, errorEvent(`Framework ${id} has been removed`));
      closeQuietly(server, CloseCode.NORMAL, "framework removed");
      return new Response(null, { status: 101, webSocket: client });
    }
    const masterId = ensureMeta(this.db, "master_id", () => crypto.randomUUID());
    const r = await this.coordinator.mutate((ctx) => {
      const s = subscribe(ctx, body.framework_info, body.suppressed_roles ?? [], headers.get(PRINCIPAL_HEADER) ?? "", masterId, streamId);
      if (!s.ok) return s;
      for (const old of this.ctx.getWebSockets(frameworkTag(s.value.frameworkId))) closeQuietly(old, CloseCode.REPLACED, "replaced by a newer subscription");
      this.ctx.acceptWebSocket(server, [frameworkTag(s.value.frameworkId)]);
      const att: StreamAttachment = { kind: "framework", frameworkId: s.value.frameworkId, streamId, connectedAt: ctx.now };
      server.serializeAttachment(att);
      // Sent before the round's events; the output gate holds it until the subscription is written.
      sendEvent(server, subscribedEvent(s.value.frameworkId, this.heartbeatSeconds, masterId, host));
      return s;
    });
    if (!r.ok) return Response.json({ message: r.message }, { status: r.code === "forbidden" ? 403 : 400 });
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * The operator API's SUBSCRIBE, from the Worker: accepts the socket its events go through and
   * sends the snapshot first, in this same turn (see operator-feed.ts for why it lives here).
   */
  private subscribeOperator(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.feed.accept(server, JSON.stringify({ snapshot: this.snapshot() }));
    return new Response(null, { status: 101, webSocket: client });
  }

  // --- DNS --------------------------------------------------------------------------------

  /** RPC: the cluster's DNS zone name and TTL (Mesos-DNS `domain` and `ttl`). */
  dnsSettings(): DnsSettings {
    return this.dns.settings();
  }

  /**
   * RPC: changes the zone name, TTL or VIP range; names answer under the new zone at once, and
   * a new range moves every named VIP (agents get the new table). A range the cluster's VIPs do
   * not fit in is a 422 and changes nothing. Audited when made acting for someone.
   */
  setDnsSettings(settings: DnsSettingsChange): Outcome<DnsSettings> {
    let refused: Outcome<DnsSettings> | undefined;
    try {
      const value = this.ctx.storage.transactionSync(() => {
        const pending = this.auditTrail.take();
        const result = this.dns.setSettings(settings);
        if (!result.ok) {
          refused = marathon.fail("invalid", "Object is not valid", { details: [{ path: `/${result.field}`, errors: [result.message] }] });
          throw new Error(result.message);
        }
        if (pending) recordAudit(this.db, pending.actor, pending.name, Date.now());
        return result.value;
      });
      this.vips.changed(Date.now(), true);
      return { ok: true, value };
    } catch (error) {
      // The refusal rolled the transaction back: the old range and its addresses stand.
      if (refused) return refused;
      throw error;
    }
  }

  // --- Secrets ---------------------------------------------------------------------------

  /** RPC: the secret store's paths and times; no value ever leaves the object but in a launch. */
  secretList(): SecretInfo[] {
    return listSecrets(this.db);
  }

  /** RPC: creates (`create`, 409 if the path is taken) or changes (`update`, 404 if absent) a secret. Audited when acting. */
  secretPut(path: string, value: string, mode: "create" | "update"): Promise<Outcome<SecretInfo>> {
    return this.coordinator.mutate(
      (ctx) => secretOutcome(mode === "create" ? createSecret(ctx.db, path, value, ctx.now) : updateSecret(ctx.db, path, value, ctx.now)),
      false,
    );
  }

  /** RPC: deletes a secret no app names (409 naming the apps that do). Audited when acting. */
  secretDelete(path: string): Promise<Outcome<SecretInfo>> {
    return this.coordinator.mutate((ctx) => secretOutcome(deleteSecret(ctx.db, path)), false);
  }

  /** RPC: the VIP table agents balance by (`GET /c/:cluster/vips`). */
  vipTable(): Vips {
    return this.vips.table();
  }

  /**
   * RPC: runs one of the commands that change the cluster (AUDITED_COMMANDS), acting for
   * `actor`: its audit row is written in its own transaction. The Worker calls it through
   * `actingStub`, which gives it the commands' own signatures.
   */
  act(actor: Actor, command: string, args: unknown[]): unknown {
    if (!isCommandName(command)) throw new Error(`'${command.slice(0, 40)}' is not a command of the cluster`);
    const commands = new ClusterCommands(this, actor) as unknown as Record<CommandName, (...a: unknown[]) => unknown>;
    return commands[command](...args);
  }

  /** RPC: the newest `limit` audit rows at or before `atMost` (ms); the Worker merges them with D1's (`GET /clusters/:id/audit`). */
  auditLog(limit: number, atMost?: number): AuditView[] {
    return auditRows(this.db, limit, atMost);
  }

  /**
   * RPC: the Worker's check of its copy of the zone (dns/edge.ts): the version alone when
   * `known` is current, else the new snapshot. `queries` are the questions it answered since its
   * last check, by rcode, for the cluster's metrics.
   */
  dnsSnapshot(known: string | null, queries: Record<string, number>): DnsSnapshotReply {
    const reply = this.dns.snapshotReply(known);
    this.metrics.dnsChecked(reply.snapshot === undefined ? "unchanged" : "sent", queries);
    return reply;
  }

  /** RPC: whether a credential belongs to an agent of this cluster (the agent's DNS forwarder uses it). */
  async isAgentCredential(credential: string): Promise<boolean> {
    return agentIdForCredential(this.db, await hashToken(credential)) !== undefined;
  }

  /** RPC: the Mesos-DNS HTTP API's answers (`/mesos_dns/v1/...`). */
  mesosDns(kind: MesosDnsQuery, arg: string, host: string, resolvers: string[]) {
    return this.dns.mesosDns(kind, arg, host, resolvers);
  }

  // --- Packages (package-repositories.ts): repositories and their packages; installs go through Marathon's RPC

  packageRepositories() {
    return listRepositories(this.db);
  }

  /** RPC: stores a repository the Worker fetched and validated, with its packages, in one transaction (with its audit row when acting for someone). */
  packageRepositoryAdd(repo: { name: string; uri: string; index?: number }, packages: PackageDefinition[], etag: string | null) {
    return this.ctx.storage.transactionSync(() => this.audited(addRepository(this.db, repo, packages, etag, Date.now())));
  }

  packageRepositoryDelete(key: { name?: string; uri?: string }) {
    return this.ctx.storage.transactionSync(() => this.audited(deleteRepository(this.db, key)));
  }

  /** Writes the pending audit row of a repository change that was made (a refusal writes none). */
  private audited<T>(result: T): T {
    const pending = this.auditTrail.take();
    if (pending && Array.isArray(result)) recordAudit(this.db, pending.actor, pending.name, Date.now());
    return result;
  }

  /** RPC: true for the one caller that should refresh a stale repository now. */
  packageRefreshClaim(name: string, staleBefore: number) {
    return claimRefresh(this.db, name, staleBefore, Date.now());
  }

  packageRefreshed(name: string, uri: string, result: FetchedRepository) {
    this.ctx.storage.transactionSync(() => recordRefresh(this.db, name, uri, result, Date.now()));
  }

  /** RPC: JSON text, since package definitions hold free-form JSON (config schemas) that RPC types cannot name. */
  packageFind(name: string): string | null {
    const found = findPackage(this.db, name);
    return found ? JSON.stringify(found) : null;
  }

  /** RPC: Cosmos's search answer, as JSON text (see packageFind). */
  packageSearch(query: string | undefined): string {
    return JSON.stringify(
      searchPackages(
        allPackages(this.db).map((p) => p.versions),
        query,
      ),
    );
  }

  /** RPC: whether a package of the cluster's repositories names `url` in its resource (what `/package/resource` may fetch). */
  packageNamesResource(url: string): boolean {
    return allPackages(this.db).some((p) => p.versions.some((v) => resourceUrls(v).includes(url)));
  }

  /** RPC: a Server-Sent Events stream of Marathon events; comments keep it alive while idle. Null when MAX_EVENT_SUBSCRIBERS are open. */
  marathonEvents(types: string[], remoteAddress: string, light = false): ReadableStream<Uint8Array> | null {
    if (this.events.subscriberCount >= MAX_EVENT_SUBSCRIBERS) return null;
    this.keepAlive ??= setInterval(() => {
      this.events.keepAlive();
      if (this.events.subscriberCount === 0) {
        clearInterval(this.keepAlive ?? null);
        this.keepAlive = undefined;
      }
    }, KEEPALIVE_MS);
    return this.events.subscribe(types, remoteAddress, light);
  }

  /**
   * RPC: wipes the cluster, when it (or its owner's account) is deleted: every socket closed,
   * the alarm and all storage deleted. Safe to call again if a deletion is retried.
   */
  async destroy(): Promise<void> {
    // The gateways close their agents' sockets and forward nothing more, so no close event looks for the registry being deleted.
    await this.gateways.shutdown(CloseCode.REMOVED, "cluster deleted");
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, CloseCode.REMOVED, "cluster deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  /** RPC: a revoked join token admits nobody more, including sessions that have not registered yet. */
  joinTokenRevoked(tokenId: string): Promise<number> {
    return this.gateways.revokeJoin(tokenId);
  }

  private invalidFrame(ws: GatewayLink, message: string, details?: Parameters<typeof sendError>[2]): void {
    increment(this.db, "counter:dropped_messages");
    console.warn(JSON.stringify({ event: "agent_frame_invalid", agentId: ws.agentId, message }));
    sendError(ws, message, details);
  }

  /**
   * A register either joins a new agent (join-token session) or re-attaches a known one
   * (credential session). The registry is written before `registered` goes out, so an agent
   * never holds a credential the master has not stored.
   */
  private async register(ws: GatewayLink, msg: Register): Promise<void> {
    if (msg.protocol !== PROTOCOL_VERSION) return sendError(ws, `unsupported protocol ${msg.protocol}`);
    const now = Date.now();
    if (ws.agentId && msg.agentId !== undefined && msg.agentId !== ws.agentId) {
      return sendError(ws, `agentId '${msg.agentId}' does not match this credential's agent`);
    }
    // A join-token session joins as a new agent, with a new credential (stored as its hash).
    let joined: { credential: string; hash: string; agentId: string } | undefined;
    if (!ws.agentId) {
      const refusal = agentQuotaRefusal(this.db, this.env);
      if (refusal) return closeQuietly(ws, CloseCode.POLICY, refusal);
      const credential = newToken("agent");
      joined = { credential, hash: await hashToken(credential), agentId: nextAgentId(this.db) };
      // D1 learns the credential before the agent does, so the Worker admits it on reconnect without waking this object.
      await recordAgentCredential(this.env.DB, { clusterId: this.ctx.id.name ?? "", agentId: joined.agentId, credentialHash: joined.hash });
      // Re-read after the awaits: a second register on this session may have joined meanwhile.
      if (ws.agentId) return sendError(ws, "this session has already registered");
    }
    // One transaction for the registry and the timers: each commit has a cost, and a reconnect
    // storm of a thousand agents is a thousand registers.
    let added: AgentRecord | undefined;
    const attached = this.ctx.storage.transactionSync(() => {
      let id = ws.agentId;
      // A new agent always brings resources; a known one only when it was away or changed.
      let offersMore = true;
      if (id) {
        const reattached = reattachAgent(this.db, id, ws.sessionId, now, msg);
        if (!reattached) return undefined;
        offersMore = reattached.offersMore;
        // Mesos tells operators of an agent that joins, or comes back after it was removed as unreachable.
        if (reattached.wasUnreachable) added = reattached.agent;
      } else if (joined) {
        id = joined.agentId;
        added = createAgent(this.db, {
          id,
          credentialHash: joined.hash,
          joinTokenId: ws.joinTokenId ?? null,
          sessionId: ws.sessionId,
          now,
          description: msg,
        });
      }
      livenessDueBy(this.db, now + this.timeoutMs);
      historyDueBy(this.db, now);
      return id === undefined ? undefined : { id, offersMore };
    });
    // Told once the registry is written (a transaction that throws tells nothing).
    if (added) {
      this.feed.emit({ type: "AGENT_ADDED", agent: added });
      this.feed.flush();
    }
    const agentId = attached?.id;
    if (!attached || !agentId) {
      closeQuietly(ws, CloseCode.POLICY, "agent credential is not valid: the agent may have been removed");
      return;
    }
    if (!ws.agentId) {
      ws.bind(agentId);
      // A new agent may take the cluster past its gateways' share: the next connects spread wider.
      this.gateways.fit(agentCountBound(this.db));
    }
    const replaced = this.sockets.set(agentId, ws);
    if (replaced) closeQuietly(replaced, CloseCode.REPLACED, "replaced by a newer session of this agent");
    await this.alarmArm.arm();
    // Only an agent that sent `resume` knows `reconnectWindowMs` (the frame is strict).
    const window = msg.resume ? { reconnectWindowMs: this.admission.reconnectWindowMs() } : {};
    send(ws, { type: "registered", agentId, pingIntervalMs: this.pingIntervalMs, ...(joined ? { credential: joined.credential } : {}), ...window });
    if (window.reconnectWindowMs !== undefined) {
      ws.resumes = true;
      this.announceWindow(window.reconnectWindowMs, ws);
    }
    // The whole VIP table, since the agent may have missed changes while it was away.
    this.vips.sendTo(ws);
    // The agent's tasks must be squared with ours; new resources may be what waiting demand needs.
    await this.coordinator.reconcile(ws, agentId, msg.tasks, attached.offersMore, msg.resume?.digest);
  }
}

/** A store change as a command's Outcome: a refusal rolls the transaction (and its audit row) back. */
function secretOutcome(r: SecretInfo | { refused: SecretRefusal }): Outcome<SecretInfo> {
  return "refused" in r ? marathon.fail(r.refused.code, r.refused.message) : { ok: true, value: r };
}
