import { Hono } from "hono";
import { WeightInfos } from "../cluster/allocator/weights.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody } from "../http/middleware.ts";
import { actingStub, clusterStub } from "../cluster-stub.ts";
import { unwrap } from "./marathon/outcome.ts";

/**
 * `/c/:cluster/weights`: Mesos's role weights endpoint. GET lists `[{role, weight}]`; PUT sets
 * the weights of the roles it names (`[{role, weight}]`, others keep theirs) and answers the
 * list after it. DRF shares offers and placements by dominant share divided by the role's weight.
 */
export const weightRoutes = new Hono<AppEnv>()
  .get("/", async (c) => c.json(await clusterStub(c.env, c.get("cluster").id).roleWeights()))
  .put("/", jsonBody(WeightInfos), async (c) => {
    const actor = { userId: c.get("user").id, tokenId: c.get("tokenId") };
    return c.json(unwrap(await actingStub(c.env, c.get("cluster").id, actor).updateRoleWeights(c.req.valid("json"))));
  });
