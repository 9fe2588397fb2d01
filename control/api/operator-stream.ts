import type { Context } from "hono";
import type { ClusterSnapshot } from "../cluster/cluster.ts";
import { HEARTBEAT } from "../cluster/frameworks/external/stream.ts";
import { OPERATOR_SUBSCRIBE_HEADER, type FeedEvent } from "../cluster/operator-feed.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { clusterStub } from "../cluster-stub.ts";
import { agent, frameworkOf, getState, task } from "./operator-json.ts";
import { RecordStream } from "./record-stream.ts";

/**
 * The operator API's SUBSCRIBE: a chunked RecordIO stream of master.proto events, SUBSCRIBED
 * (with `get_state`) first, then TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
 * FRAMEWORK_ADDED, FRAMEWORK_UPDATED, FRAMEWORK_REMOVED as they happen, and HEARTBEAT every
 * `heartbeat_interval_seconds`. The stream is held here, in the Worker, fed by a hibernatable
 * WebSocket from the Cluster object: control/cluster/operator-feed.ts says why.
 */

/** One feed event as master.proto's Event JSON; `masterId` makes the built-in frameworks' ids. */
function render(e: FeedEvent, masterId: string): Record<string, unknown> {
  switch (e.type) {
    case "TASK_ADDED":
      return { type: e.type, task_added: { task: task(e.task, masterId) } };
    case "TASK_UPDATED": {
      const t = task(e.task, masterId);
      const status = {
        task_id: t.task_id,
        state: e.task.state,
        agent_id: t.agent_id,
        timestamp: e.task.updatedAt / 1000,
        ...(e.task.message ? { message: e.task.message } : {}),
        ...(e.task.healthy !== null ? { healthy: e.task.healthy } : {}),
      };
      return { type: e.type, task_updated: { framework_id: t.framework_id, status, state: e.task.state } };
    }
    case "AGENT_ADDED":
      return { type: e.type, agent_added: { agent: agent(e.agent, { usage: {}, frameworks: [] }) } };
    case "AGENT_REMOVED":
      return { type: e.type, agent_removed: { agent_id: { value: e.agentId } } };
    case "FRAMEWORK_ADDED":
      return { type: e.type, framework_added: { framework: frameworkOf(e.framework) } };
    case "FRAMEWORK_UPDATED":
      return { type: e.type, framework_updated: { framework: frameworkOf(e.framework) } };
    case "FRAMEWORK_REMOVED":
      return { type: e.type, framework_removed: { framework_info: frameworkOf(e.framework).framework_info } };
  }
}

/** Opens the stream: the object's first message is the snapshot, then each message is a commit's events as JSON lines. */
export async function operatorStream(c: Context<AppEnv>): Promise<Response> {
  const res = await clusterStub(c.env, c.get("cluster").id).fetch(
    new Request("https://cluster/operator/subscribe", { headers: { Upgrade: "websocket", [OPERATOR_SUBSCRIBE_HEADER]: "1" } }),
  );
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new ApiError("unavailable", "The cluster could not open an operator stream; try again.");
  ws.accept();
  const heartbeatSeconds = Number(c.env.FRAMEWORK_HEARTBEAT_SECONDS) || 15;
  let masterId: string | undefined;
  // A failed write means the reader left: the object's socket is closed with the stream.
  const stream = new RecordStream(() => {
    clearInterval(heartbeat);
    try {
      ws.close(1000, "subscription ended");
    } catch {
      // Already closed by the object.
    }
  });
  const write = (event: unknown) => stream.push(JSON.stringify(event));
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") return;
    if (masterId === undefined) {
      const { snapshot } = JSON.parse(e.data) as { snapshot: ClusterSnapshot };
      masterId = snapshot.masterId;
      write({ type: "SUBSCRIBED", subscribed: { get_state: getState(snapshot), heartbeat_interval_seconds: heartbeatSeconds } });
      return;
    }
    for (const line of e.data.split("\n")) write(render(JSON.parse(line) as FeedEvent, masterId));
  });
  ws.addEventListener("close", () => stream.close());
  ws.addEventListener("error", () => stream.close());
  const heartbeat = setInterval(() => stream.push(HEARTBEAT), heartbeatSeconds * 1000);
  return new Response(stream.readable, {
    status: 200,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-cache", "Content-Encoding": "identity" },
  });
}
