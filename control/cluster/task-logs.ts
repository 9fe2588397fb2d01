import { type AgentRecord, getAgent } from "./agents.ts";
import type { ClusterDb } from "./db.ts";
import type { LogOpen, LogRelay, LogRequest } from "./log-relay.ts";
import type { AgentLinks } from "./sessions.ts";
import { getTask } from "./tasks.ts";

/**
 * A task's logs live on the agent that ran it, so they can be read only while that agent is
 * connected; the master keeps no copy. Ended tasks stay known here as long as the task table
 * keeps them (see ENDED_TASK_RETENTION_MS), and on the agent as long as their sandbox does.
 */
export function openTaskLogs(db: ClusterDb, sockets: AgentLinks, relay: LogRelay, request: LogRequest): Promise<LogOpen> {
  const task = getTask(db, request.taskId);
  if (task === undefined) return Promise.resolve({ ok: false, code: "not_found", message: `Task '${request.taskId}' does not exist.` });
  const ws = sockets.get(task.agentId);
  if (ws === undefined) return Promise.resolve({ ok: false, code: "unavailable", message: absence(getAgent(db, task.agentId), task.agentId) });
  return relay.open(ws, request);
}

/** Why an agent cannot be asked, in words an operator can act on. */
function absence(agent: AgentRecord | undefined, agentId: string): string {
  if (agent === undefined) return `The task's agent ${agentId} was removed from the cluster: its logs went with it.`;
  const name = `Agent ${agent.id} (${agent.hostname})`;
  const since = agent.state === "unreachable" ? agent.unreachableAt : agent.disconnectedAt;
  const state = agent.state === "active" ? "not connected" : `${agent.state}${since === null ? "" : ` since ${new Date(since).toISOString()}`}`;
  return `${name} is ${state}: the task's logs are on that machine and can be read once the agent reconnects.`;
}
