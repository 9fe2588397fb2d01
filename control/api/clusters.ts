import { Hono } from "hono";
import { listSecrets } from "../accounts/cluster-secrets.ts";
import { listClusters } from "../accounts/clusters.ts";
import { NewAgentToken, NewCluster, NewDnsKey } from "../contract/accounts.ts";
import { clusterAuditPage, parseCursor } from "../operations/audit.ts";
import { createAgentToken, createClusterFor, createDnsKey, deleteClusterFor, dohUrl, revokeAgentToken, revokeDnsKey } from "../operations/clusters.ts";
import { auditQuery, badCursor } from "./auth.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody, requireMember, requireUser } from "../http/middleware.ts";

/** `/clusters`: the user's clusters, their agent join tokens and DNS keys. */
export const clusterRoutes = new Hono<AppEnv>()
  .use(requireUser)
  .get("/", async (c) => c.json({ clusters: await listClusters(c.get("db"), c.get("user").id) }))
  .post("/", jsonBody(NewCluster), async (c) => c.json({ cluster: await createClusterFor(c.env, c.get("db"), c.get("user").id, c.req.valid("json")) }, 201))
  .get("/:id", requireMember, (c) => c.json({ cluster: c.get("cluster") }))
  .delete("/:id", requireMember, async (c) => {
    await deleteClusterFor(c.env, c.get("db"), c.get("cluster"), c.get("user").id);
    return c.body(null, 204);
  })
  .get("/:id/audit", requireMember, async (c) => {
    const { limit, before } = auditQuery(c);
    const after = before === undefined ? undefined : parseCursor(before);
    if (before !== undefined && !after) throw badCursor(before);
    return c.json(await clusterAuditPage(c.env, c.get("db"), c.get("cluster").id, limit, after));
  })
  .post("/:id/agent-tokens", requireMember, jsonBody(NewAgentToken), async (c) => {
    const created = await createAgentToken(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.valid("json"));
    return c.json({ ...created.info, token: created.secret }, 201);
  })
  .get("/:id/agent-tokens", requireMember, async (c) => c.json({ tokens: await listSecrets(c.get("db"), c.get("cluster").id, "join") }))
  .delete("/:id/agent-tokens/:tokenId", requireMember, async (c) => {
    const info = await revokeAgentToken(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.param("tokenId"));
    return c.json({ token: info });
  })
  .post("/:id/dns-keys", requireMember, jsonBody(NewDnsKey), async (c) => {
    const created = await createDnsKey(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.valid("json"));
    return c.json({ ...created.info, key: created.secret, url: dohUrl(c.req.url, created.secret) }, 201);
  })
  .get("/:id/dns-keys", requireMember, async (c) => c.json({ keys: await listSecrets(c.get("db"), c.get("cluster").id, "dns") }))
  .delete("/:id/dns-keys/:keyId", requireMember, async (c) => {
    const info = await revokeDnsKey(c.get("db"), c.get("cluster").id, c.get("user").id, c.req.param("keyId"));
    return c.json({ key: info });
  });
