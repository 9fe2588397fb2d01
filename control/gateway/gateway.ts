import { DurableObject } from "cloudflare:workers";
import { CloseCode, PING, PONG } from "../../protocol/index.ts";
import { GatewayAdmission, admissionRate, refuseUpgrade } from "./admission.ts";
import {
  type AdmissionReport,
  CREDENTIAL_HEADER,
  GATEWAY_COUNT_HEADER,
  type GatewayEvent,
  JOIN_TOKEN_HEADER,
  type LinkOp,
  parseGatewayName,
  type SessionReport,
  sessionIdFor,
} from "./wire.ts";

/** What each agent socket carries through hibernation. */
interface GatewayAttachment {
  sessionId: string;
  connectedAt: number;
  joinTokenId?: string;
  /** Set by the Cluster object (a `bind` op) once it knows the agent this session speaks for. */
  agentId?: string;
  /** The close was already reported to the Cluster object (it asked for it): the runtime's close event is not. */
  reported?: boolean;
}

/**
 * Forwarding that begins this long after the last one began finds the gateway quiet and goes at
 * once; within it, the gateway is busy and the first event waits a turn for others to join it.
 */
const QUIET_MS = 5;

/** Bounds one forwarding RPC; what is left goes in the next, at once. */
const MAX_BATCH_EVENTS = 2000;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** Counts of what this instance forwarded since it started (tests and benchmarks read them). */
export interface GatewayStats {
  rpcs: number;
  events: number;
  /** Events waiting for the next RPC. */
  queued: number;
  /** Sessions held over this gateway's share of the admission rate (since it started, and waiting now). */
  held: number;
  waiting: number;
  /** Upgrades turned away when the wait would have been too long. */
  refused: number;
}

/**
 * One of a cluster's agent gateways (wire.ts): it holds agent sockets through the hibernation
 * API, answers their heartbeats by auto-response (the object is not even woken), and forwards
 * everything else to the Cluster object, which stays the single writer. Forwarding keeps one
 * RPC in flight: frames that arrive meanwhile accumulate and go together in the next, so a
 * quiet gateway adds no delay and a busy one sends few, large batches. One queue for opens,
 * frames and closes keeps every agent's order. The Cluster object answers through `deliver`.
 */
export class AgentGateway extends DurableObject<Env> {
  private queue: GatewayEvent[] = [];
  private pumping: Promise<void> | undefined;
  private cluster: ReturnType<Env["CLUSTER"]["getByName"]> | undefined;
  private readonly stats = { rpcs: 0, events: 0, held: 0, refused: 0 };
  /** Holds and refusals not yet told to the Cluster object (they ride on the next forwarding RPC). */
  private unreported: AdmissionReport = { held: 0, refused: 0 };
  private readonly admission: GatewayAdmission<GatewayEvent>;
  /** When the last forwarding RPC began (Date.now()). */
  private forwardedAt = Number.NEGATIVE_INFINITY;
  /**
   * Each socket's session id, once read from its attachment: a busy gateway takes thousands of
   * frames a second, and deserializing the attachment for each cost more than forwarding it.
   * Keyed weakly by the socket's object, which the runtime keeps while this instance lives. A
   * socket marked reported (markReported) leaves it, so its next frame reads the mark.
   */
  private readonly sessionIds = new WeakMap<WebSocket, string>();
  /** Each open socket by session id, once looked up: `getWebSockets(tag)` searches every socket of the gateway. */
  private readonly sockets = new Map<string, WebSocket>();
  private readonly clusterId: string;
  private readonly n: number;
  /** Sockets the reset hook is to close (testReset, testResetClose). */
  private resetClosing: WebSocket[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const name = parseGatewayName(ctx.id.name ?? "");
    this.clusterId = name?.clusterId ?? "";
    this.n = name?.n ?? 0;
    this.admission = new GatewayAdmission<GatewayEvent>(admissionRate(env.AGENT_ADMISSION_PER_SECOND), (events) => {
      for (const event of events) this.enqueue(event);
    });
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  /** An agent's upgrade, authenticated by the Worker (which set the credential or join token header). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    if (!this.clusterId) return new Response("not a gateway of a cluster", { status: 404 });
    const credential = request.headers.get(CREDENTIAL_HEADER) ?? undefined;
    const joinTokenId = request.headers.get(JOIN_TOKEN_HEADER) ?? undefined;
    if (!credential && !joinTokenId) return new Response("missing credential", { status: 400 });
    const att: GatewayAttachment = { sessionId: sessionIdFor(this.n), connectedAt: Date.now(), ...(joinTokenId ? { joinTokenId } : {}) };
    // The Cluster object checks the credential against its registry (an unknown one is closed with 1008).
    const open: GatewayEvent = {
      kind: "open",
      sessionId: att.sessionId,
      connectedAt: att.connectedAt,
      ...(credential ? { credential } : {}),
      ...(joinTokenId ? { joinTokenId } : {}),
    };
    // Admitted as it arrives, at this gateway's share of the rate: one over it is held here, and
    // the Cluster object hears of it when its turn comes (admission.ts).
    const arrival = this.admission.arrive(att.sessionId, open, Number(request.headers.get(GATEWAY_COUNT_HEADER)) || 1, att.connectedAt);
    if (typeof arrival === "object") return this.refuse(arrival.retryAfterMs);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    // Tagged by session id, so the Cluster object's ops find their socket without a walk.
    this.ctx.acceptWebSocket(server, [att.sessionId]);
    server.serializeAttachment(att);
    if (arrival === "admitted") this.enqueue(open);
    else this.held();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    let sessionId = this.sessionIds.get(ws);
    if (sessionId === undefined) {
      const att = attachmentOf(ws);
      // A socket being closed (its close already told, or not to be told) has nothing more to say.
      if (att.reported) return;
      sessionId = att.sessionId;
      this.sessionIds.set(ws, sessionId);
    }
    // Not awaited: the runtime hands this socket its next message only once this handler returns.
    // The RPC in flight keeps the object awake until the batch is taken.
    const event: GatewayEvent = typeof message === "string" ? { kind: "text", sessionId, text: message } : { kind: "binary", sessionId, data: message };
    // A held session's frames wait with it.
    if (!this.admission.hold(sessionId, event)) this.enqueue(event);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const att = attachmentOf(ws);
    if (this.sockets.get(att.sessionId) === ws) this.sockets.delete(att.sessionId);
    closeQuietly(ws, code === 1005 || code === 1006 ? CloseCode.NORMAL : code, reason);
    // A session still held never reached the Cluster object: nothing to tell it.
    if (this.admission.left(att.sessionId) || att.reported) return;
    this.enqueue({ kind: "close", sessionId: att.sessionId, code, reason });
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1006, "error");
  }

  /** RPC from the Cluster object: frames, binds and closes for this gateway's sockets, in order. Ops for sockets gone are dropped. */
  deliver(ops: LinkOp[]): void {
    for (const op of ops) {
      const ws = this.socket(op.sessionId);
      if (!ws) continue;
      if ("text" in op) sendQuietly(ws, op.text);
      else if ("data" in op) sendQuietly(ws, op.data);
      else if ("bind" in op) ws.serializeAttachment({ ...attachmentOf(ws), agentId: op.bind } satisfies GatewayAttachment);
      else this.closeReported(ws, op.close.code, op.close.reason);
    }
  }

  /** The open socket of a session, if this instance holds it. */
  private socket(sessionId: string): WebSocket | undefined {
    let ws = this.sockets.get(sessionId);
    if (ws === undefined) {
      ws = this.ctx.getWebSockets(sessionId)[0];
      if (ws !== undefined) this.sockets.set(sessionId, ws);
    }
    return ws;
  }

  /** RPC: every open socket with its last heartbeat, for the Cluster object's liveness sweep. */
  sessions(): SessionReport[] {
    return this.ctx.getWebSockets().map((ws) => {
      const { sessionId, agentId, joinTokenId, connectedAt } = attachmentOf(ws);
      const lastHeartbeat = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      return { sessionId, connectedAt, lastHeartbeat, ...(agentId ? { agentId } : {}), ...(joinTokenId ? { joinTokenId } : {}) };
    });
  }

  /** RPC: a revoked join token admits nobody more: its sessions not yet bound to an agent are closed. */
  revokeJoin(tokenId: string): number {
    const pending = this.ctx.getWebSockets().filter((ws) => {
      const att = attachmentOf(ws);
      return att.joinTokenId === tokenId && att.agentId === undefined;
    });
    for (const ws of pending) this.closeReported(ws, CloseCode.POLICY, "join token revoked");
    return pending.length;
  }

  /** RPC: the cluster is being deleted: every socket closes, and nothing more is forwarded. */
  shutdown(code: number, reason: string): void {
    this.queue = [];
    this.admission.clear();
    this.sockets.clear();
    for (const ws of this.ctx.getWebSockets()) {
      this.markReported(ws, attachmentOf(ws));
      closeQuietly(ws, code, reason);
    }
  }

  /**
   * RPC: the first half of a reset by the test hook (DCX_TEST_HOOKS), as a deploy does: this
   * object's memory is lost (its queue, its admission, its counts), and every socket it holds now
   * is to drop without its close being reported (a deploy resets the Cluster object too). New
   * sockets are taken as by a fresh instance meanwhile.
   */
  testReset(): void {
    if (String(this.env.DCX_TEST_HOOKS) !== "on") throw new Error("test hooks are off (DCX_TEST_HOOKS)");
    this.queue = [];
    this.admission.clear();
    this.unreported = { held: 0, refused: 0 };
    this.cluster = undefined;
    Object.assign(this.stats, { rpcs: 0, events: 0, held: 0, refused: 0 });
    this.sockets.clear();
    this.resetClosing = this.ctx.getWebSockets();
    for (const ws of this.resetClosing) this.markReported(ws, attachmentOf(ws));
  }

  /**
   * RPC: the second half: closes the sockets `testReset` found, as a restart (1012),
   * RESET_CLOSE_SLICE a turn; resolves once all are closed. Local workerd spends about a third of
   * a millisecond of its one thread on each socket closed (an exception whose stack it unwinds):
   * 9,000 closed in one turn held every API call for 3 to 9 s, a cost of the local runtime's
   * teardown that the Worker answering the API does not pay on Cloudflare.
   */
  async testResetClose(): Promise<void> {
    if (String(this.env.DCX_TEST_HOOKS) !== "on") throw new Error("test hooks are off (DCX_TEST_HOOKS)");
    const sockets = this.resetClosing;
    this.resetClosing = [];
    for (let i = 0; i < sockets.length; i += RESET_CLOSE_SLICE) {
      for (const ws of sockets.slice(i, i + RESET_CLOSE_SLICE)) closeQuietly(ws, SERVICE_RESTART, "service restart");
      await new Promise((resolve) => setTimeout(resolve, RESET_CLOSE_PAUSE_MS));
    }
  }

  /** RPC: what this instance forwarded since it started. */
  forwarded(): GatewayStats {
    return { ...this.stats, queued: this.queue.length, waiting: this.admission.waiting };
  }

  /** A session arrived over the rate and waits here; the Cluster object counts it with the next batch. */
  private held(): void {
    this.stats.held++;
    this.unreported.held++;
  }

  private hasUnreported(): boolean {
    return this.unreported.held > 0 || this.unreported.refused > 0;
  }

  /** Turns an upgrade away with its retry slot (the wait would have been too long); the Cluster object counts it with the next batch. */
  private refuse(retryAfterMs: number): Response {
    this.stats.refused++;
    this.unreported.refused++;
    this.kick();
    return refuseUpgrade(retryAfterMs, this.admission.clusterPerSecond);
  }

  /** Closes a socket the Cluster object asked to close, and reports the close at once (a dead peer may never answer it). */
  private closeReported(ws: WebSocket, code: number, reason: string): void {
    const att = attachmentOf(ws);
    if (att.reported) return;
    this.markReported(ws, att);
    closeQuietly(ws, code, reason);
    // A session still held never reached the Cluster object: nothing to report.
    if (!this.admission.left(att.sessionId)) this.enqueue({ kind: "close", sessionId: att.sessionId, code, reason });
  }

  /** Marks a socket's close as told (or not to be told): its frames are dropped from now on, and it leaves the caches. */
  private markReported(ws: WebSocket, att: GatewayAttachment): void {
    ws.serializeAttachment({ ...att, reported: true } satisfies GatewayAttachment);
    this.sessionIds.delete(ws);
    if (this.sockets.get(att.sessionId) === ws) this.sockets.delete(att.sessionId);
  }

  private enqueue(event: GatewayEvent): void {
    this.queue.push(event);
    this.kick();
  }

  /**
   * Starts forwarding unless an RPC is already in flight (its end starts the next). A quiet
   * gateway forwards a lone event (a task's TASK_RUNNING) at once, after this handler's turn; a
   * busy one waits a zero timer first, so frames the runtime already holds for it join the batch.
   */
  private kick(): void {
    if (this.pumping || (this.queue.length === 0 && !this.hasUnreported())) return;
    const quiet = Date.now() - this.forwardedAt >= QUIET_MS;
    this.pumping = (quiet ? Promise.resolve() : new Promise<void>((resolve) => setTimeout(resolve, 0)))
      .then(() => this.pump())
      .finally(() => {
        this.pumping = undefined;
        this.kick();
      });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 || this.hasUnreported()) {
      const batch = this.takeBatch();
      const admission = this.unreported;
      this.unreported = { held: 0, refused: 0 };
      try {
        this.cluster ??= this.env.CLUSTER.getByName(this.clusterId);
        this.stats.rpcs++;
        this.stats.events += batch.length;
        this.forwardedAt = Date.now();
        await this.cluster.gatewayEvents(this.n, batch, admission);
      } catch (error) {
        this.cluster = undefined;
        this.batchFailed(batch, error);
      }
    }
  }

  private takeBatch(): GatewayEvent[] {
    let bytes = 0;
    let count = 0;
    for (const event of this.queue) {
      bytes += event.kind === "text" ? event.text.length : event.kind === "binary" ? event.data.byteLength : 64;
      if (count > 0 && (count >= MAX_BATCH_EVENTS || bytes > MAX_BATCH_BYTES)) break;
      count++;
    }
    return this.queue.splice(0, count);
  }

  /**
   * The Cluster object did not take a batch (it was reset, or overloaded): whether any of it was
   * applied is unknown, so its sessions are closed with 1011 and their agents reconnect and
   * resend what was not acked, rather than have frames replayed or lost.
   */
  private batchFailed(batch: GatewayEvent[], error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    console.warn(JSON.stringify({ event: "gateway_forward_failed", clusterId: this.clusterId, gateway: this.n, events: batch.length, message }));
    for (const sessionId of new Set(batch.map((e) => e.sessionId))) {
      const ws = this.ctx.getWebSockets(sessionId)[0];
      if (ws) this.closeReported(ws, CloseCode.RETRY, "the master could not take this session's frames; reconnect");
    }
  }
}

/** RFC 6455's "Service Restart", the close a restart of the master's objects gives its agents. */
const SERVICE_RESTART = 1012;
/** The reset hook closes this many sockets a turn, then pauses, a gateway at a time: 9,000 sockets took 8 to 9 s here, the thread shared with the agents already coming back (200 every 40 ms was no faster, and slowed the API). */
const RESET_CLOSE_SLICE = 100;
const RESET_CLOSE_PAUSE_MS = 50;

function attachmentOf(ws: WebSocket): GatewayAttachment {
  return ws.deserializeAttachment() as GatewayAttachment;
}

function sendQuietly(ws: WebSocket, data: string | ArrayBuffer): void {
  try {
    ws.send(data);
  } catch {
    // The peer is gone; its close event follows.
  }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    // Since the 2026-03-03 compatibility date, close reasons are capped at 123 bytes.
    ws.close(code, reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}
