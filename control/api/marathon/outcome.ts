import type { Context } from "hono";
import { ApiError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { actingStub, clusterStub } from "../../cluster-stub.ts";
import { failedWith, unwrap } from "../../operations/outcome.ts";
import { flag } from "../query.ts";

/** A Marathon DeploymentResult response, with its `Marathon-Deployment-Id` header, and any fields DCX adds. */
export function deploymentResponse(
  c: Context<AppEnv>,
  result: { deploymentId: string; version: string; created?: boolean },
  extra: Record<string, unknown> = {},
) {
  c.header("Marathon-Deployment-Id", result.deploymentId);
  return c.json({ deploymentId: result.deploymentId, version: result.version, ...extra }, result.created ? 201 : 200);
}

export const cluster = (c: Context<AppEnv>) => clusterStub(c.env, c.get("cluster").id);

export { flag };
/** Commands' outcomes are unwrapped the same way by the routes and the UI's pages. */
export { failedWith, unwrap };

/** The cluster's commands acting for the request's user: changes made through it are audited. */
export const acting = (c: Context<AppEnv>) => actingStub(c.env, c.get("cluster").id, { userId: c.get("user").id, tokenId: c.get("tokenId") });

/**
 * Whether a task kill also scales the app down (`?scale`). `?wipe` expunges a resident task's
 * reservation in Marathon; DCX has no resident tasks, so a wipe is a plain kill. As in Marathon,
 * the two together are refused.
 */
export function killScales(c: Context<AppEnv>): boolean {
  const scale = flag(c, "scale");
  if (scale && flag(c, "wipe"))
    throw new ApiError("malformed", "You cannot use scale and wipe at the same time.", [{ path: "wipe", errors: ["scale and wipe exclude each other"] }]);
  return scale;
}

/** A percent-decoded path segment; a malformed escape (`%ZZ`) is the client's error, a 400. */
export function decodeSegment(segment = ""): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError("malformed", `path segment '${segment.slice(0, 64)}' has a malformed percent escape`);
  }
}
