import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { NewServiceAccount } from "../contract/accounts.ts";
import { quotaLimit } from "../quotas.ts";
import { cachedServiceAccount, createServiceAccount, listServiceAccounts, revokeServiceAccount } from "../accounts/service-accounts.ts";
import { isWellFormedToken, tokenKind } from "../crypto.ts";
import { unauthenticated } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { basicCredentials, bearerToken, jsonBody, requireMember, requireUser, waitUntilOf } from "../http/middleware.ts";

/** `/clusters/:id/service-accounts`: create (the secret is shown once), list, revoke. */
export const serviceAccountRoutes = new Hono<AppEnv>()
  .use(requireUser, requireMember)
  .post("/", jsonBody(NewServiceAccount), async (c) => {
    const { id: clusterId } = c.get("cluster");
    const { info, secret } = await createServiceAccount(
      c.get("db"),
      { clusterId, ...c.req.valid("json"), createdBy: c.get("user").id },
      quotaLimit(c.env, "serviceAccounts"),
    );
    return c.json({ ...info, secret }, 201);
  })
  .get("/", async (c) => c.json({ serviceAccounts: await listServiceAccounts(c.get("db"), c.get("cluster").id) }))
  .delete("/:accountId", async (c) => {
    const { id: clusterId } = c.get("cluster");
    const info = await revokeServiceAccount(c.get("db"), clusterId, c.req.param("accountId"), c.get("user").id);
    return c.json({ serviceAccount: info });
  });

/**
 * Who may use a cluster's scheduler API: a service account of that cluster (Bearer secret, or
 * Basic principal:secret, the principal matching), or a member's user token. A service account
 * of another cluster is refused like an unknown one, so a framework reaches only its own cluster.
 */
export const requireFramework = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("Authorization");
  const credentials = basicCredentials(header);
  const basic = credentials === undefined ? undefined : { principal: credentials.user, secret: credentials.password };
  const bearer = basic ? undefined : bearerToken(header);
  const secret = basic?.secret ?? (bearer !== undefined && tokenKind(bearer) === "service" ? bearer : undefined);
  if (secret === undefined) {
    if (basic) throw unauthenticated("HTTP Basic credentials must be a service account's principal and secret.");
    await requireUser(c, async () => {
      await requireMember(c, async () => {
        c.set("principal", c.get("user").email);
        await next();
      });
    });
    return;
  }
  // Checked for shape before any lookup, as every other credential is.
  if (!isWellFormedToken(secret, "service")) throw unauthenticated("Malformed service account secret: it is 'dcxs_' and 43 base64url characters.");
  const clusterId = c.req.param("cluster") ?? "";
  const account = await cachedServiceAccount(c.get("db"), secret, clusterId, waitUntilOf(c));
  if (!account || (basic && basic.principal !== account.principal)) throw unauthenticated("Invalid service account credential for this cluster.");
  c.set("cluster", account.cluster);
  c.set("principal", account.principal);
  await next();
});
