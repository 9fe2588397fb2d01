import { CloseCode } from "../../protocol/index.ts";
import { gatewayOfSession, type SessionReport } from "../gateway/wire.ts";
import { activeSessions, disconnectedAgents, markDisconnected, markUnreachable } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import { scheduleAt, scheduleNoLaterThan } from "./timers.ts";

export const LIVENESS_TIMER = "liveness";
/** A gateway that did not answer the sweep is asked again this soon (its agents keep their state meanwhile). */
const UNANSWERED_RETRY_MS = 5_000;

/** What the sweep knows of the sockets: the gateways' reports, and the sessions active before they were asked. */
export interface LivenessInput {
  /** Every open socket the gateways hold, with its last auto-responded heartbeat. */
  sessions: SessionReport[];
  /** Gateways that did not answer: their sessions are neither alive nor lost this time. */
  unanswered: ReadonlySet<number>;
  /** Each active agent's session, read before the gateways were asked (a register meanwhile is not lost). */
  activeBefore: ReadonlyMap<string, string>;
}

/** Agents in `lost` (their socket dropped by a restart of the object) count their timeout from `until` (epoch ms) at the earliest. */
export interface ReconnectGrace {
  until: number;
  lost: Set<string>;
}

/**
 * Agent liveness, as Mesos: an agent that has not been heard from for `timeoutMs` becomes
 * unreachable. Heartbeats are `ping` text frames answered by the gateways' WebSocket
 * auto-response, so they never wake an object; this sweep reads their timestamps from the
 * gateways' reports instead. It runs from the alarm, recomputes everything from stored state (so
 * a retried alarm is harmless), and schedules itself for the next deadline. `close` closes a
 * timed-out session. Returns the agents it marked unreachable.
 *
 * A socket lost is not tasks lost: after a gateway restarts (a deploy resets it), its agents
 * lost their sockets at once, without a close event, and come back over the reconnect window the
 * master suggested. Such an agent (found active without a socket, added to `grace.lost`) is not
 * declared unreachable (its tasks replaced) before `grace.until` plus the timeout (admission.ts);
 * an agent whose close was seen gets the timeout alone, so a dead agent is found as fast as ever.
 */
export function sweepLiveness(
  db: ClusterDb,
  input: LivenessInput,
  now: number,
  timeoutMs: number,
  close: (sessionId: string, code: number, reason: string) => void,
  grace: ReconnectGrace = { until: 0, lost: new Set() },
): string[] {
  let next = Number.POSITIVE_INFINITY;
  const lost: string[] = [];
  const live = new Set<string>();
  // One read of every active agent's session, not one per socket: a sweep over 10,000 sockets
  // held the object for seconds that way, in the middle of a reconnect storm.
  const sessions = activeSessions(db);
  for (const s of input.sessions) {
    const last = Math.max(s.connectedAt, s.lastHeartbeat);
    const bound = s.agentId !== undefined && sessions.get(s.agentId) === s.sessionId;
    if (now - last >= timeoutMs) {
      if (bound && s.agentId && markUnreachable(db, s.agentId, now)) lost.push(s.agentId);
      close(s.sessionId, CloseCode.TIMEOUT, bound ? "heartbeat timeout" : "no register within the timeout");
      continue;
    }
    if (bound && s.agentId) live.add(s.agentId);
    next = Math.min(next, last + timeoutMs);
  }
  // Active agents whose socket no gateway holds lost it without a close event (their gateway was reset).
  const held = new Set(input.sessions.map((s) => s.sessionId));
  for (const [agentId, sessionId] of input.activeBefore) {
    if (live.has(agentId)) continue;
    const gateway = gatewayOfSession(sessionId);
    if (gateway !== undefined && input.unanswered.has(gateway)) next = Math.min(next, now + UNANSWERED_RETRY_MS);
    else if (!held.has(sessionId) && markDisconnected(db, agentId, sessionId, now)) grace.lost.add(agentId);
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
