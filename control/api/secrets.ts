import { Hono } from "hono";
import { SecretPath } from "../cluster/frameworks/marathon/app-fields.ts";
import { SecretValue } from "../cluster/secrets.ts";
import { clusterStub } from "../cluster-stub.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody } from "../http/middleware.ts";
import { acting, unwrap } from "./marathon/outcome.ts";

/**
 * `/c/:cluster/secrets/v1/secret/default/<path>`: DC/OS's secrets API over the cluster's store
 * (control/cluster/secrets.ts). `PUT` creates (201; 409 if the path is taken), `PATCH` changes
 * (204), `DELETE` removes (204; 409 while an app names it), `GET …?list=true` lists the paths
 * under a prefix as `{"array": [...]}`. A value is never returned: `GET` of one secret is a 403,
 * where DC/OS Enterprise lets principals with a read permission have it. DCX has no per-secret
 * permissions: this keeps values out of what members read (definitions, listings, the audit log),
 * not out of the tasks of apps a member may deploy naming them (README, "Secrets").
 */

/** The secret's path from the URL, checked as apps' `secrets.*.source` are. */
function secretPath(raw: string): string {
  const path = decodeURIComponent(raw.replace(/^\/+/, "").replace(/\/+$/, ""));
  const parsed = SecretPath.safeParse(path);
  if (!parsed.success)
    throw new ApiError("invalid", "Object is not valid", [
      { path: "/path", errors: [`'${path.slice(0, 80)}' ${parsed.error.issues[0]?.message ?? "is not a secret path"}`] },
    ]);
  return path;
}

export const secretRoutes = new Hono<AppEnv>()
  .get("/:path{.*}", async (c) => {
    const prefix = c.req.param("path").replace(/^\/+|\/+$/g, "");
    if (c.req.query("list") !== "true" && prefix !== "") {
      throw new ApiError(
        "forbidden",
        "DCX never returns a secret's value: tasks of apps that name it get it in their environment. List paths with ?list=true.",
      );
    }
    const under = prefix === "" ? "" : `${secretPath(prefix)}/`;
    const paths = (await clusterStub(c.env, c.get("cluster").id).secretList()).map((s) => s.path).filter((p) => p.startsWith(under));
    return c.json({ array: paths.map((p) => p.slice(under.length)) });
  })
  .put("/:path{.+}", jsonBody(SecretValue), async (c) => {
    const path = secretPath(c.req.param("path"));
    unwrap(await acting(c).secretPut(path, c.req.valid("json").value, "create"));
    return c.body(null, 201);
  })
  .patch("/:path{.+}", jsonBody(SecretValue), async (c) => {
    const path = secretPath(c.req.param("path"));
    unwrap(await acting(c).secretPut(path, c.req.valid("json").value, "update"));
    return c.body(null, 204);
  })
  .delete("/:path{.+}", async (c) => {
    unwrap(await acting(c).secretDelete(secretPath(c.req.param("path"))));
    return c.body(null, 204);
  });

/** `/c/:cluster/secrets`: DCX's own listing, with each secret's times (the CLI's and UI's). */
export const secretListRoutes = new Hono<AppEnv>().get("/", async (c) => c.json(await clusterStub(c.env, c.get("cluster").id).secretList()));
