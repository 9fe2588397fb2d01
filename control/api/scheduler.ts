import { Hono, type Context } from "hono";
import { callProblem, type SchedulerCall } from "../cluster/frameworks/external/calls.ts";
import { parseSchedulerCall } from "../cluster/frameworks/external/plain-call.ts";
import {
  encodeSubscribe,
  HEARTBEAT,
  MASTER_HOST_HEADER,
  PRINCIPAL_HEADER,
  STREAM_HEADER,
  SUBSCRIBE_HEADER,
  type SubscribeBody,
} from "../cluster/frameworks/external/stream.ts";
import { ApiError, type ErrorCode } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { mesosCallBody } from "../http/middleware.ts";
import { fieldErrors } from "../../protocol/messages.ts";
import { clusterStub } from "../cluster-stub.ts";
import { forgetDnsSnapshot } from "../dns/edge.ts";
import { unwrap } from "./marathon/outcome.ts";
import { RecordStream } from "./record-stream.ts";

/**
 * `POST /c/:cluster/api/v1/scheduler`: Mesos's v1 scheduler HTTP API, in JSON. SUBSCRIBE
 * answers 200 with a chunked RecordIO stream and `Mesos-Stream-Id`; every other call answers
 * 202 (UPDATE_FRAMEWORK 200), 400 for a malformed call, 403 without the current stream id.
 * The stream is held here, in the Worker, not in the Cluster object (see
 * control/cluster/frameworks/external/stream.ts for why).
 */

const STREAM_ID_HEADER = "Mesos-Stream-Id";

/**
 * Reads and checks a call: 415 for a body that is not JSON (DCX speaks no protobuf), 400 for one
 * that is not a call. Returns it with its JSON for the Cluster object: the request's own text
 * when the call is that text's parse as it stands (no null dropped, taken by plain-call.ts's
 * check as it is), which spares serializing it again; else the validated call, serialized.
 */
async function readCall(c: Context<AppEnv>): Promise<{ call: SchedulerCall; json: string }> {
  const body = await mesosCallBody(c, "scheduler API");
  const droppedNone = !dropNulls(body);
  const parsed = parseSchedulerCall(body);
  if (!parsed.success) {
    const details = fieldErrors(parsed.error);
    throw new ApiError("malformed", `Failed to validate scheduler::Call: ${details.map((d) => `${d.path}: ${d.errors.join(", ")}`).join("; ")}`, details);
  }
  const call = parsed.data;
  const problem = callProblem(call);
  if (problem) throw new ApiError("malformed", `Failed to validate scheduler::Call: ${problem}`);
  // mesosCallBody parsed the text Hono keeps: asking for it again reads no body.
  return { call, json: droppedNone && call === body ? await c.req.text() : JSON.stringify(call) };
}

/**
 * Removes every null field, in place (the value is the request's own parse): protobuf's JSON
 * mapping reads null as "not set", and protobuf.js-based clients (mesos-framework) send unset
 * message fields as null. A body without nulls is walked, never copied. Recursion is bounded:
 * mesosCallBody refused bodies nested deeper than MAX_JSON_DEPTH. Returns whether it dropped any.
 */
function dropNulls(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  let dropped = false;
  if (Array.isArray(value)) {
    for (const item of value) dropped = dropNulls(item) || dropped;
    return dropped;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) {
    if (object[key] === null) {
      delete object[key];
      dropped = true;
    } else dropped = dropNulls(object[key]) || dropped;
  }
  return dropped;
}

/**
 * Opens the subscription: the Cluster object accepts a WebSocket for the framework's events,
 * and each of its messages, a commit's events as RecordIO records, is written to the stream as
 * it is (record-stream.ts: alone in its chunk while the framework keeps up). Heartbeats are
 * written here.
 */
async function subscribeStream(c: Context<AppEnv>, body: SubscribeBody): Promise<Response> {
  const streamId = crypto.randomUUID();
  const headers = new Headers({ Upgrade: "websocket" });
  headers.set(SUBSCRIBE_HEADER, encodeSubscribe(body));
  headers.set(STREAM_HEADER, streamId);
  headers.set(PRINCIPAL_HEADER, c.get("principal"));
  headers.set(MASTER_HOST_HEADER, new URL(c.req.url).hostname);
  const res = await clusterStub(c.env, c.get("cluster").id).fetch(new Request("https://cluster/frameworks/subscribe", { headers }));
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) {
    const { message } = (await res.json()) as { message: string };
    throw new ApiError((res.status === 403 ? "forbidden" : "malformed") satisfies ErrorCode, message);
  }
  ws.binaryType = "arraybuffer";
  ws.accept();
  // A write that fails means the framework went away: the object must hear of it (its socket closes).
  const stream = new RecordStream(() => {
    clearInterval(heartbeat);
    try {
      ws.close(1000, "subscription ended");
    } catch {
      // Already closed by the object.
    }
  });
  // A message is one commit's events, framed as records by the object (mailbox.ts).
  ws.addEventListener("message", (e) => {
    if (e.data instanceof ArrayBuffer) stream.pushRecords(new Uint8Array(e.data));
  });
  ws.addEventListener("close", () => stream.close());
  ws.addEventListener("error", () => stream.close());
  const heartbeat = setInterval(() => stream.push(HEARTBEAT), (Number(c.env.FRAMEWORK_HEARTBEAT_SECONDS) || 15) * 1000);
  // Identity, not gzip: a compressed stream is held back until enough bytes fill a block, so a
  // client that accepts gzip (Node's fetch does) would not see SUBSCRIBED for a long time.
  const streamHeaders = { "Content-Type": "application/json", [STREAM_ID_HEADER]: streamId, "Cache-Control": "no-cache", "Content-Encoding": "identity" };
  return new Response(stream.readable, { status: 200, headers: streamHeaders });
}

export const schedulerRoutes = new Hono<AppEnv>().post("/", async (c) => {
  const { call, json } = await readCall(c);
  const streamId = c.req.header(STREAM_ID_HEADER);
  if (call.type === "SUBSCRIBE") {
    if (streamId !== undefined) throw new ApiError("malformed", `A SUBSCRIBE call must not send ${STREAM_ID_HEADER}: it opens a new stream.`);
    const claimed = call.subscribe?.framework_info.principal;
    if (claimed && claimed !== c.get("principal"))
      throw new ApiError("forbidden", `framework_info.principal '${claimed.slice(0, 128)}' is not the authenticated principal '${c.get("principal")}'.`);
    return subscribeStream(c, call.subscribe as SubscribeBody);
  }
  if (!streamId) throw new ApiError("forbidden", `Missing ${STREAM_ID_HEADER}: send the header the SUBSCRIBE response carried.`);
  const clusterId = c.get("cluster").id;
  // The validated call travels as its JSON: cheaper to send and to read back than the object's
  // structured clone (an ACCEPT may carry a thousand TaskInfos).
  const { status } = unwrap(
    await clusterStub(c.env, clusterId)
      .schedulerCall(json, streamId)
      .finally(() => forgetDnsSnapshot(clusterId)),
  );
  return c.body(null, status);
});
