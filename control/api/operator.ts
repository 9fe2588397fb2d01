import { Hono, type Context } from "hono";
import { z } from "zod";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { mesosCallBody } from "../http/middleware.ts";
import { fieldErrors } from "../../protocol/messages.ts";
import { WeightInfos } from "../cluster/allocator/weights.ts";
import { actingStub, clusterStub } from "../cluster-stub.ts";
import { unwrap } from "./marathon/outcome.ts";
import { versionJson } from "./master-summary.ts";
import { DCX_VERSION } from "./mesos-json.ts";
import { getAgents, getFrameworks, getState, getTasks } from "./operator-json.ts";
import { operatorStream } from "./operator-stream.ts";

/**
 * `POST /c/:cluster/api/v1`: the Mesos v1 operator API in JSON (mesos/v1/master/master.proto):
 * GET_HEALTH, GET_VERSION, GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_TASKS, GET_WEIGHTS,
 * UPDATE_WEIGHTS, TEARDOWN of an external framework, and SUBSCRIBE (a RecordIO event stream,
 * operator-stream.ts). Any path under `/api/v1` other than the scheduler's answers too,
 * as libprocess routes `/api/v1/operator` (which pymesos uses) to the same handler.
 */

const Call = z.object({
  type: z.string().min(1).max(64),
  teardown: z.object({ framework_id: z.object({ value: z.string().min(1).max(255) }) }).optional(),
  update_weights: z.object({ weight_infos: z.unknown() }).optional(),
});
const SUPPORTED = [
  "GET_HEALTH",
  "GET_VERSION",
  "GET_STATE",
  "GET_AGENTS",
  "GET_FRAMEWORKS",
  "GET_TASKS",
  "GET_WEIGHTS",
  "TEARDOWN",
  "UPDATE_WEIGHTS",
  "SUBSCRIBE",
] as const;
type Supported = (typeof SUPPORTED)[number];
/** The calls that change the cluster (acting for the caller, audited) or open a stream: not answered by `answer`. */
type Query = Exclude<Supported, "TEARDOWN" | "UPDATE_WEIGHTS" | "SUBSCRIBE">;

/** Mesos's `GET /version` body; pymesos reads `version` as dotted integers. */
export const versionInfo = () => ({ ...versionJson(), dcx_version: DCX_VERSION });

async function answer(c: Context<AppEnv>, type: Query): Promise<Record<string, unknown>> {
  if (type === "GET_HEALTH") return { get_health: { healthy: true } };
  if (type === "GET_VERSION") return { get_version: { version_info: versionInfo() } };
  if (type === "GET_WEIGHTS") return { get_weights: { weight_infos: await clusterStub(c.env, c.get("cluster").id).roleWeights() } };
  const s = await clusterStub(c.env, c.get("cluster").id).snapshot();
  if (type === "GET_AGENTS") return { get_agents: getAgents(s) };
  if (type === "GET_FRAMEWORKS") return { get_frameworks: getFrameworks(s) };
  if (type === "GET_TASKS") return { get_tasks: getTasks(s) };
  return { get_state: getState(s) };
}

async function operatorCall(c: Context<AppEnv>) {
  const json = await mesosCallBody(c, "operator API");
  const call = Call.safeParse(json);
  if (!call.success) throw new ApiError("malformed", "Failed to validate master::Call: 'type' is required");
  const callType = call.data.type;
  if (callType === "TEARDOWN") {
    const id = call.data.teardown?.framework_id.value;
    if (!id) throw new ApiError("malformed", "Failed to validate master::Call: TEARDOWN needs 'teardown.framework_id'");
    // Audited in the cluster's own log, in the teardown's transaction.
    unwrap(await actingStub(c.env, c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") }).teardownFramework(id));
    return c.body(null, 200);
  }
  if (callType === "SUBSCRIBE") return operatorStream(c);
  if (callType === "UPDATE_WEIGHTS") {
    const weights = WeightInfos.safeParse(call.data.update_weights?.weight_infos);
    if (!weights.success) {
      const details = fieldErrors(weights.error).map((d) => ({ ...d, path: `/update_weights/weight_infos${d.path === "/" ? "" : d.path}` }));
      throw new ApiError(
        "malformed",
        `Failed to validate master::Call: UPDATE_WEIGHTS needs 'update_weights.weight_infos' [{role, weight > 0}]: ${details.map((d) => `${d.path}: ${d.errors.join(", ")}`).join("; ")}`,
        details,
      );
    }
    unwrap(await actingStub(c.env, c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") }).updateRoleWeights(weights.data));
    return c.body(null, 200);
  }
  if (!(SUPPORTED as readonly string[]).includes(callType))
    throw new ApiError("malformed", `Failed to validate master::Call: DCX answers ${SUPPORTED.join(", ")}; not '${callType.slice(0, 64)}'`);
  return c.json({ type: callType, ...(await answer(c, callType as Query)) });
}

/** `/c/:cluster/api/v1` (the operator API, with libprocess's prefix fallback) and `/c/:cluster/version`. */
export const operatorRoutes = new Hono<AppEnv>().post("/api/v1", operatorCall).post("/api/v1/*", operatorCall);
