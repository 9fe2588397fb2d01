import { CloseCode } from "../../protocol/index.ts";
import { activeSessions, disconnectedAgents, markDisconnected, markUnreachable } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import { attachmentOf, closeQuietly } from "./sessions.ts";
import { scheduleAt, scheduleNoLaterThan } from "./timers.ts";

export const LIVENESS_TIMER = "liveness";

/** Agents in `lost` (their socket dropped by a restart of the object) count their timeout from `until` (epoch ms) at the earliest. */
export interface ReconnectGrace {
  until: number;
  lost: Set<string>;
}

/**
 * Agent liveness, as Mesos: an agent that has not been heard from for `timeoutMs` becomes
 * unreachable. Heartbeats are `ping` text frames answered by the WebSocket auto-response, so
 * they never wake the object; this sweep reads their timestamps instead. It runs from the
 * alarm, recomputes everything from stored state (so a retried alarm is harmless), and
 * schedules itself for the next deadline. Returns the agents it marked unreachable.
 *
 * A socket lost is not tasks lost: after the object restarts (a deploy resets it), every agent
 * lost its socket at once, without a close event, and comes back over the reconnect window the
 * master suggested. Such an agent (found active without a socket, added to `grace.lost`) is not
 * declared unreachable (its tasks replaced) before `grace.until` plus the timeout (admission.ts);
 * an agent whose close was seen gets the timeout alone, so a dead agent is found as fast as ever.
 */
export function sweepLiveness(
  db: ClusterDb,
  sockets: WebSocket[],
  lastHeartbeat: (ws: WebSocket) => number,
  now: number,
  timeoutMs: number,
  grace: ReconnectGrace = { until: 0, lost: new Set() },
): string[] {
  let next = Number.POSITIVE_INFINITY;
  const lost: string[] = [];
  const live = new Set<string>();
  // One read of every active agent's session, not one per socket: a sweep over 10,000 sockets
  // held the object for seconds that way, in the middle of a reconnect storm.
  const sessions = activeSessions(db);
  for (const ws of sockets) {
    const att = attachmentOf(ws);
    const last = Math.max(att.connectedAt, lastHeartbeat(ws));
    const bound = att.agentId !== undefined && sessions.get(att.agentId) === att.sessionId;
    if (now - last >= timeoutMs) {
      if (bound && att.agentId && markUnreachable(db, att.agentId, now)) lost.push(att.agentId);
      closeQuietly(ws, CloseCode.TIMEOUT, bound ? "heartbeat timeout" : "no register within the timeout");
      continue;
    }
    if (bound && att.agentId) live.add(att.agentId);
    next = Math.min(next, last + timeoutMs);
  }
  // Active agents without a socket lost it without a close event (e.g. the runtime restarted).
  for (const [agentId, session] of sessions) {
    if (!live.has(agentId) && markDisconnected(db, agentId, session, now)) grace.lost.add(agentId);
  }
  for (const agent of disconnectedAgents(db)) {
    const from = grace.lost.has(agent.id) ? Math.max(agent.disconnectedAt, grace.until) : agent.disconnectedAt;
    const deadline = from + timeoutMs;
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
