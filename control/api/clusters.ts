import { Hono } from "hono";
import { z } from "zod";
import { createSecret, listSecrets, revokeSecret } from "../accounts/cluster-secrets.ts";
import { audit } from "../accounts/audit.ts";
import { createCluster, listClusters } from "../accounts/clusters.ts";
import { clusterStub } from "./cluster-stub.ts";
import { forgetDnsKeys } from "./dns-keys-cache.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody, requireMember, requireUser } from "../http/middleware.ts";

const ClusterName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, { message: "must be lowercase letters, digits and '-', not starting or ending with '-'" });

const NewCluster = z.strictObject({ name: ClusterName });
const NewAgentToken = z.strictObject({
  description: z.string().max(256).optional(),
  expiresInSeconds: z.number().int().min(60).max(366 * 24 * 3600).optional(),
});
const NewDnsKey = z.strictObject({ description: z.string().max(256).optional() });

/** `/clusters`: the user's clusters, their agent join tokens and DNS keys. */
export const clusterRoutes = new Hono<AppEnv>()
  .use(requireUser)
  .get("/", async (c) => c.json({ clusters: await listClusters(c.get("db"), c.get("user").id) }))
  .post("/", jsonBody(NewCluster), async (c) => {
    const cluster = await createCluster(c.get("db"), c.get("user").id, c.req.valid("json").name);
    await audit(c.get("db"), { clusterId: cluster.id, userId: c.get("user").id, action: "cluster.create" });
    return c.json({ cluster }, 201);
  })
  .get("/:id", requireMember, (c) => c.json({ cluster: c.get("cluster") }))
  .post("/:id/agent-tokens", requireMember, jsonBody(NewAgentToken), async (c) => {
    const body = c.req.valid("json");
    const created = await createSecret(c.get("db"), { ...body, clusterId: c.get("cluster").id, kind: "join", createdBy: c.get("user").id });
    await audit(c.get("db"), { clusterId: c.get("cluster").id, userId: c.get("user").id, action: "agent-token.create", target: created.id });
    return c.json({ ...created.info, token: created.secret }, 201);
  })
  .get("/:id/agent-tokens", requireMember, async (c) =>
    c.json({ tokens: await listSecrets(c.get("db"), c.get("cluster").id, "join") }),
  )
  .delete("/:id/agent-tokens/:tokenId", requireMember, async (c) => {
    const info = await revokeSecret(c.get("db"), c.get("cluster").id, "join", c.req.param("tokenId"));
    await audit(c.get("db"), { clusterId: c.get("cluster").id, userId: c.get("user").id, action: "agent-token.revoke", target: info.id });
    // Sessions admitted with the token but not registered yet must not register after this.
    await clusterStub(c.env, c.get("cluster").id).joinTokenRevoked(info.id);
    return c.json({ token: info });
  })
  .post("/:id/dns-keys", requireMember, jsonBody(NewDnsKey), async (c) => {
    const body = c.req.valid("json");
    const created = await createSecret(c.get("db"), { ...body, clusterId: c.get("cluster").id, kind: "dns", createdBy: c.get("user").id });
    await audit(c.get("db"), { clusterId: c.get("cluster").id, userId: c.get("user").id, action: "dns-key.create", target: created.id });
    const url = new URL(`/dns/${created.secret}/dns-query`, c.req.url).toString();
    return c.json({ ...created.info, key: created.secret, url }, 201);
  })
  .get("/:id/dns-keys", requireMember, async (c) => c.json({ keys: await listSecrets(c.get("db"), c.get("cluster").id, "dns") }))
  .delete("/:id/dns-keys/:keyId", requireMember, async (c) => {
    const info = await revokeSecret(c.get("db"), c.get("cluster").id, "dns", c.req.param("keyId"));
    await audit(c.get("db"), { clusterId: c.get("cluster").id, userId: c.get("user").id, action: "dns-key.revoke", target: info.id });
    forgetDnsKeys(c.get("cluster").id);
    return c.json({ key: info });
  });
