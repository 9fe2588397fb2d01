import { CloseCode, MAX_FRAME_BYTES, type ErrorFrame, type FieldError, type MasterMessage } from "../../protocol/index.ts";
import { activeSessions } from "./agents.ts";
import type { ClusterDb } from "./db.ts";

/**
 * Agent WebSocket sessions. Sockets are accepted through the hibernation API, so each
 * carries its identity in a small serialized attachment that survives the object sleeping;
 * everything else about the agent lives in SQLite.
 */
export interface Attachment {
  sessionId: string;
  connectedAt: number;
  /** Set once the session is bound to an agent: at connect for a credential, at register for a join token. */
  agentId?: string;
  /** The join token a not-yet-registered session was admitted with. */
  joinTokenId?: string;
}

export function attachmentOf(ws: WebSocket): Attachment {
  return ws.deserializeAttachment() as Attachment;
}

/** Sends one master frame; a socket that is already closing is skipped quietly. */
export function send(ws: WebSocket, message: MasterMessage): void {
  try {
    ws.send(JSON.stringify(message));
  } catch {
    // The peer is gone; its close event will follow and update the registry.
  }
}

export function sendError(ws: WebSocket, message: string, details?: FieldError[]): void {
  const frame: ErrorFrame = { type: "error", message };
  if (details && details.length > 0) frame.details = details;
  send(ws, frame);
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
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
 * The socket speaking for each agent, held in memory. After the object wakes from hibernation
 * it is rebuilt once from the sockets' attachments and the registry's current sessions; then
 * registers and closes keep it current, so no event has to walk every socket.
 */
export class SocketIndex {
  private byAgent: Map<string, WebSocket> | undefined;

  constructor(
    private readonly state: DurableObjectState,
    private readonly db: ClusterDb,
  ) {}

  private get map(): Map<string, WebSocket> {
    if (!this.byAgent) {
      const current = activeSessions(this.db);
      this.byAgent = new Map();
      for (const ws of this.state.getWebSockets()) {
        const att = attachmentOf(ws);
        if (att.agentId && current.get(att.agentId) === att.sessionId) this.byAgent.set(att.agentId, ws);
      }
    }
    return this.byAgent;
  }

  get(agentId: string): WebSocket | undefined {
    return this.map.get(agentId);
  }

  all(): ReadonlyMap<string, WebSocket> {
    return this.map;
  }

  /** `ws` now speaks for the agent; returns the socket it replaces, if any. */
  set(agentId: string, ws: WebSocket): WebSocket | undefined {
    const previous = this.map.get(agentId);
    this.map.set(agentId, ws);
    return previous === ws ? undefined : previous;
  }

  /** Forgets the agent's socket (only `ws`, when given: a replaced session's close changes nothing). */
  delete(agentId: string, ws?: WebSocket): void {
    if (ws === undefined || this.map.get(agentId) === ws) this.map.delete(agentId);
  }
}
