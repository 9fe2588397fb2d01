import { CloseCode } from "../../protocol/index.ts";
import { agentSession, disconnectedAgents, listAgents, markDisconnected, markUnreachable } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import { attachmentOf, closeQuietly } from "./sessions.ts";
import { scheduleAt, scheduleNoLaterThan } from "./timers.ts";

export const LIVENESS_TIMER = "liveness";

/**
 * Agent liveness, as Mesos: an agent that has not been heard from for `timeoutMs` becomes
 * unreachable. Heartbeats are `ping` text frames answered by the WebSocket auto-response, so
 * they never wake the object; this sweep reads their timestamps instead. It runs from the
 * alarm, recomputes everything from stored state (so a retried alarm is harmless), and
 * schedules itself for the next deadline. Returns the agents it marked unreachable.
 */
export function sweepLiveness(db: ClusterDb, sockets: WebSocket[], lastHeartbeat: (ws: WebSocket) => number, now: number, timeoutMs: number): string[] {
  let next = Number.POSITIVE_INFINITY;
  const lost: string[] = [];
  const live = new Set<string>();
  for (const ws of sockets) {
    const att = attachmentOf(ws);
    const last = Math.max(att.connectedAt, lastHeartbeat(ws));
    const bound = att.agentId !== undefined && agentSession(db, att.agentId) === att.sessionId;
    if (now - last >= timeoutMs) {
      if (bound && att.agentId && markUnreachable(db, att.agentId, now)) lost.push(att.agentId);
      closeQuietly(ws, CloseCode.TIMEOUT, bound ? "heartbeat timeout" : "no register within the timeout");
      continue;
    }
    if (bound && att.agentId) live.add(att.agentId);
    next = Math.min(next, last + timeoutMs);
  }
  // Active agents without a socket lost it without a close event (e.g. the runtime restarted).
  for (const agent of listAgents(db)) {
    if (agent.state === "active" && !live.has(agent.id)) {
      const session = agentSession(db, agent.id);
      if (session) markDisconnected(db, agent.id, session, now);
    }
  }
  for (const agent of disconnectedAgents(db)) {
    const deadline = agent.disconnectedAt + timeoutMs;
    if (deadline <= now) {
      if (markUnreachable(db, agent.id, now)) lost.push(agent.id);
    } else next = Math.min(next, deadline);
  }
  if (Number.isFinite(next)) scheduleAt(db, LIVENESS_TIMER, next);
  return lost;
}

/** Makes sure the sweep runs by `dueAt` (after a connect or a disconnect). */
export function livenessDueBy(db: ClusterDb, dueAt: number): void {
  scheduleNoLaterThan(db, LIVENESS_TIMER, dueAt);
}
