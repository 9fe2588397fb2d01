import { CloseCode, MAX_FRAME_BYTES, type ErrorFrame, type FieldError, type MasterMessage } from "../../protocol/index.ts";
import { activeSessions } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import { gatewayOfSession, type LinkOp } from "../gateway/wire.ts";

/**
 * Agent sessions, as the Cluster object sees them. Agents' sockets live on the cluster's
 * gateway objects (control/gateway/); the object speaks to each session through an AgentLink,
 * which queues its frames for the session's gateway (gateways.ts sends them in batches). A
 * link's identity is the session's: the tunnel, log relay and bundles key their state on it.
 */
export interface Attachment {
  sessionId: string;
  connectedAt: number;
  /** Set once the session is bound to an agent: at connect for a credential, at register for a join token. */
  agentId?: string;
  /** The join token a not-yet-registered session was admitted with. */
  joinTokenId?: string;
}

/** Where a link's frames go: the outbox of its gateway. */
export interface LinkSink {
  push(gateway: number, op: LinkOp): void;
  /** Settles once every op pushed so far has had its delivery RPC. */
  sent(): Promise<void>;
}

/** Anything a master frame can be sent on: an agent's link or a plain socket. */
interface Sendable {
  send(data: string): void;
}

/** Anything that can be closed with a code and a reason. */
interface Closable {
  close(code?: number, reason?: string): void;
}

/**
 * One agent session, seen by the modules that talk to agents (coordinator, tunnel, log relay,
 * bundles, VIPs): send a frame (text, or the service proxy's binary frames), close it with a
 * code and reason, and whether it is still open. It has the shape of the WebSocket it stands
 * for; its identity is the session's, so state keyed on it ends with the session.
 */
export interface AgentLink {
  readonly readyState: number;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

/** The AgentLink of a session whose socket a gateway holds: what it sends is queued for that gateway. */
export class GatewayLink implements AgentLink, Attachment {
  readonly sessionId: string;
  readonly connectedAt: number;
  agentId?: string;
  joinTokenId?: string;
  /** The agent's register carried `resume`: it understands `reconnectWindowMs` and the `window` frame. */
  resumes = false;
  private open = true;

  constructor(
    att: Attachment,
    /** The gateway holding the session's socket. */
    readonly gateway: number,
    private readonly sink: LinkSink,
  ) {
    this.sessionId = att.sessionId;
    this.connectedAt = att.connectedAt;
    if (att.agentId !== undefined) this.agentId = att.agentId;
    if (att.joinTokenId !== undefined) this.joinTokenId = att.joinTokenId;
  }

  get readyState(): number {
    return this.open ? WebSocket.OPEN : WebSocket.CLOSED;
  }

  /** Queues one frame; a closed link drops it (as a closing socket would). */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (!this.open) return;
    if (typeof data === "string") return this.sink.push(this.gateway, { sessionId: this.sessionId, text: data });
    // A copy: the caller may reuse its buffer before the batch goes out.
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.sink.push(this.gateway, { sessionId: this.sessionId, data: bytes.slice().buffer });
  }

  /** Binds the session to its agent, here and on its gateway (whose liveness reports then name it). */
  bind(agentId: string): void {
    this.agentId = agentId;
    this.sink.push(this.gateway, { sessionId: this.sessionId, bind: agentId });
  }

  /** Asks the gateway to close the socket; the gateway reports the close back, which ends the session here. */
  close(code: number = CloseCode.NORMAL, reason = ""): void {
    if (!this.open) return;
    this.open = false;
    this.sink.push(this.gateway, { sessionId: this.sessionId, close: { code, reason } });
  }

  /** The socket is gone (its close was reported): frames to it are dropped. */
  ended(): void {
    this.open = false;
  }
}

/** Sends one master frame; a socket that is already closing is skipped quietly. */
export function send(ws: Sendable, message: MasterMessage): void {
  sendText(ws, JSON.stringify(message));
}

/** Sends one master frame already serialized (`launchFrameTexts`); a socket that is already closing is skipped quietly. */
export function sendText(ws: Sendable, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The peer is gone; its close event will follow and update the registry.
  }
}

export function sendError(ws: Sendable, message: string, details?: FieldError[]): void {
  const frame: ErrorFrame = { type: "error", message };
  if (details && details.length > 0) frame.details = details;
  send(ws, frame);
}

export function closeQuietly(ws: Closable, code: number, reason: string): void {
  try {
    // Since the 2026-03-03 compatibility date, close reasons are capped at 123 bytes.
    ws.close(code, reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}

/** The text of a frame, or an error message for frames the protocol does not allow. */
export function frameText(message: string | ArrayBuffer): { text: string } | { error: string } {
  if (typeof message !== "string") return { error: "binary frames are not supported: send JSON text frames" };
  if (message.length > MAX_FRAME_BYTES) return { error: `frame too large: ${message.length} bytes, limit ${MAX_FRAME_BYTES}` };
  return { text: message };
}

/**
 * Answers an upgrade with a socket that closes at once with 1008: the agent learns its
 * credential was refused (and stops retrying), which a plain HTTP 401 would not tell it.
 */
export function rejectUpgrade(reason: string): Response {
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  closeQuietly(server, CloseCode.POLICY, reason);
  return new Response(null, { status: 101, webSocket: client });
}

/**
 * The link of every open session, and the one speaking for each agent. Held in memory: after
 * the object restarts it is rebuilt once from the registry's current sessions (each session id
 * names its gateway), so the agents stay connected to their gateways through a restart of this
 * object; registers and closes keep it current, so no event has to walk every link.
 */
export class AgentLinks {
  private readonly bySession = new Map<string, GatewayLink>();
  private byAgent: Map<string, GatewayLink> | undefined;

  constructor(
    private readonly db: ClusterDb,
    private readonly sink: LinkSink,
  ) {}

  private get map(): Map<string, GatewayLink> {
    if (!this.byAgent) {
      this.byAgent = new Map();
      for (const [agentId, sessionId] of activeSessions(this.db)) {
        const gateway = gatewayOfSession(sessionId);
        // A session of a socket this object held itself (before gateways) did not outlive the restart.
        if (gateway === undefined) continue;
        const link = this.bySession.get(sessionId) ?? new GatewayLink({ sessionId, connectedAt: 0, agentId }, gateway, this.sink);
        this.bySession.set(sessionId, link);
        this.byAgent.set(agentId, link);
      }
    }
    return this.byAgent;
  }

  /** A session a gateway opened (its `open` event). */
  opened(att: Attachment, gateway: number): GatewayLink {
    const link = new GatewayLink(att, gateway, this.sink);
    this.bySession.set(att.sessionId, link);
    return link;
  }

  /** The open session `sessionId`, if this object knows it. */
  session(sessionId: string): GatewayLink | undefined {
    // Loading the agents' links first makes a session opened before a restart known again.
    void this.map;
    return this.bySession.get(sessionId);
  }

  /** Forgets a session whose socket closed. */
  ended(link: GatewayLink): void {
    link.ended();
    if (this.bySession.get(link.sessionId) === link) this.bySession.delete(link.sessionId);
    if (link.agentId !== undefined) this.delete(link.agentId, link);
  }

  /** Closes a session by id, known here or not (the liveness sweep finds sessions on the gateways). */
  close(sessionId: string, code: number, reason: string): void {
    const link = this.session(sessionId);
    if (link) return link.close(code, reason);
    const gateway = gatewayOfSession(sessionId);
    if (gateway !== undefined) this.sink.push(gateway, { sessionId, close: { code, reason } });
  }

  get(agentId: string): GatewayLink | undefined {
    return this.map.get(agentId);
  }

  all(): ReadonlyMap<string, GatewayLink> {
    return this.map;
  }

  /** Settles once every frame queued so far has had its gateway's delivery RPC. */
  sent(): Promise<void> {
    return this.sink.sent();
  }

  /** `link` now speaks for the agent; returns the link it replaces, if any. */
  set(agentId: string, link: GatewayLink): GatewayLink | undefined {
    const previous = this.map.get(agentId);
    this.map.set(agentId, link);
    return previous === link ? undefined : previous;
  }

  /** Forgets the agent's link (only `link`, when given: a replaced session's close changes nothing). */
  delete(agentId: string, link?: GatewayLink): void {
    if (link === undefined || this.map.get(agentId) === link) this.map.delete(agentId);
  }
}

/**
 * Runs each session's events one after another, in the order they came, and different
 * sessions side by side. A gateway's call returns once its events are queued here, so it can
 * send what it gathered meanwhile while these run (a register awaiting D1 holds up only its own
 * session). An event that throws is reported to `failed`; the session's later events still run.
 */
export class SessionOrder {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly failed: (sessionId: string, error: unknown) => void) {}

  run(sessionId: string, task: () => Promise<void>): void {
    const tail = (this.tails.get(sessionId) ?? Promise.resolve()).then(task).catch((error: unknown) => this.failed(sessionId, error));
    this.tails.set(sessionId, tail);
    void tail.then(() => {
      if (this.tails.get(sessionId) === tail) this.tails.delete(sessionId);
    });
  }
}
