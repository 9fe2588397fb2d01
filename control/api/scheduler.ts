import { Hono, type Context } from "hono";
import type { SchedulerCall } from "../cluster/frameworks/external/calls.ts";
import { readCallText } from "../cluster/frameworks/external/read-call.ts";
import {
  encodeSubscribe,
  HEARTBEAT,
  MASTER_HOST_HEADER,
  PRINCIPAL_HEADER,
  STREAM_HEADER,
  STREAM_ID_HEADER,
  SUBSCRIBE_HEADER,
  type SubscribeBody,
} from "../cluster/frameworks/external/stream.ts";
import { ApiError, type ErrorCode } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { mesosCallText } from "../http/middleware.ts";
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

/**
 * Reads and checks a call sent without a stream id (a SUBSCRIBE, or a call refused for lacking
 * the id): 415 for a body that is not JSON (DCX speaks no protobuf), 400 for one that is not a
 * call. A call with a stream id is read by the Cluster object, from the request's text (read-call.ts).
 */
async function readCall(c: Context<AppEnv>): Promise<SchedulerCall> {
  return unwrap(readCallText(await mesosCallText(c, "scheduler API")));
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
  const streamId = c.req.header(STREAM_ID_HEADER);
  if (!streamId) {
    const call = await readCall(c);
    if (call.type !== "SUBSCRIBE") throw new ApiError("forbidden", `Missing ${STREAM_ID_HEADER}: send the header the SUBSCRIBE response carried.`);
    if (streamId !== undefined) throw new ApiError("malformed", `A SUBSCRIBE call must not send ${STREAM_ID_HEADER}: it opens a new stream.`);
    const claimed = call.subscribe?.framework_info.principal;
    if (claimed && claimed !== c.get("principal"))
      throw new ApiError("forbidden", `framework_info.principal '${claimed.slice(0, 128)}' is not the authenticated principal '${c.get("principal")}'.`);
    return subscribeStream(c, call.subscribe as SubscribeBody);
  }
  const clusterId = c.get("cluster").id;
  // The call travels as the request's text, read and checked once, by the object (read-call.ts):
  // cheaper than reading it here too, or than the object's structured clone of it (an ACCEPT
  // may carry a thousand TaskInfos).
  const { status } = unwrap(
    await clusterStub(c.env, clusterId)
      .schedulerCall(await mesosCallText(c, "scheduler API"), streamId)
      .finally(() => forgetDnsSnapshot(clusterId)),
  );
  return c.body(null, status);
});
