import { Hono, type Context } from "hono";
import { z } from "zod";
import { normalizeAppId, parseAppDefinition } from "../../cluster/frameworks/marathon/app-definition.ts";
import { APP_LIST_EMBEDS, APP_SHOW_EMBEDS } from "../../cluster/frameworks/marathon/embeds.ts";
import { ApiError, notFound, validationError } from "../../errors.ts";
import type { AppEnv } from "../../http/env.ts";
import { jsonBody } from "../../http/middleware.ts";
import { appEmbeds } from "./embed.ts";
import { parseLabelSelector } from "./label-selector.ts";
import { appWire, taskWire } from "./wire.ts";
import { acting, cluster, decodeSegment, deploymentResponse, failedWith, flag, killScales, unwrap } from "./outcome.ts";

/** Any JSON object: the app schema itself runs after, so its errors carry Marathon's paths. */
const AnyObject = z.record(z.string(), z.unknown(), { message: "expected a JSON object" });

/** What follows the app id in `/v2/apps/{id}/...`. */
type Suffix = { kind: "app" } | { kind: "restart" } | { kind: "tasks"; taskId?: string } | { kind: "versions"; version?: string };

/**
 * Splits `/v2/apps/shop/web/tasks/<task>` into the app id and what follows. App ids cannot end
 * in a segment named `restart`, `tasks` or `versions`, so the split is unambiguous.
 */
export function splitAppPath(rest: string): { id: string; suffix: Suffix } {
  const parts = rest.split("/").filter((p) => p !== "");
  const at = (i: number) => parts[parts.length - i];
  let suffix: Suffix = { kind: "app" };
  let take = parts.length;
  if (at(1) === "restart") [suffix, take] = [{ kind: "restart" }, parts.length - 1];
  else if (at(1) === "tasks" || at(1) === "versions") [suffix, take] = [{ kind: at(1) as "tasks" | "versions" }, parts.length - 1];
  else if (at(2) === "tasks") [suffix, take] = [{ kind: "tasks", taskId: decodeSegment(at(1)) }, parts.length - 2];
  else if (at(2) === "versions") [suffix, take] = [{ kind: "versions", version: decodeSegment(at(1)) }, parts.length - 2];
  const raw = "/" + parts.slice(0, take).join("/");
  let id: string;
  try {
    id = normalizeAppId(raw);
  } catch (err) {
    throw validationError([{ path: "/id", errors: [err instanceof Error ? err.message : String(err)] }]);
  }
  return { id, suffix };
}

const appPath = (c: Context<AppEnv>) => splitAppPath(c.req.path.replace(/^.*?\/v2\/apps/, ""));

/** Whether the client asks for Marathon's `text/plain` task list (`Accept: text/plain` without JSON). */
export function wantsText(c: Context<AppEnv>): boolean {
  const accept = c.req.header("Accept") ?? "";
  return /\btext\/plain\b/.test(accept) && !/application\/json/.test(accept);
}

export const plainText = (c: Context<AppEnv>, text: string) => c.body(text, 200, { "Content-Type": "text/plain; charset=utf-8" });

/** `PUT` and `PATCH /v2/apps`: many apps created or updated in one transaction (bulk-commands.ts). */
async function bulkUpdate(c: Context<AppEnv>, bodies: Record<string, unknown>[], partial: boolean) {
  const result = unwrap(await acting(c).marathonUpdateApps(bodies, partial, flag(c, "force")));
  // DCX's addition, as for groups: each app got its own deployment; clients may wait for all of them.
  return deploymentResponse(c, result, { deploymentIds: result.deploymentIds });
}

const AppList = z.array(AnyObject, { message: "expected a JSON array of apps" });

/** `/v2/apps`: Marathon's app API. */
export const appRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const labels = parseLabelSelector(c.req.query("label"));
    const apps = await cluster(c).marathonApps(appEmbeds(c, APP_LIST_EMBEDS));
    const id = c.req.query("id");
    const cmd = c.req.query("cmd");
    return c.json({
      apps: apps.filter((a) => (!id || a.id.includes(id)) && (!cmd || (a.cmd ?? "").includes(cmd)) && labels(a.labels)).map(appWire),
    });
  })
  .post("/", jsonBody(AnyObject), async (c) => {
    const parsed = parseAppDefinition(c.req.valid("json"));
    if (!parsed.ok) throw validationError(parsed.details);
    const result = unwrap(await acting(c).marathonCreate(parsed.app));
    c.header("Location", `${c.req.url.split("?")[0]?.replace(/\/$/, "")}${parsed.app.id}`);
    c.header("Marathon-Deployment-Id", result.deploymentId);
    return c.json(result.app && appWire(result.app), 201);
  })
  .get("/*", async (c) => {
    const { id, suffix } = appPath(c);
    const stub = cluster(c);
    if (suffix.kind === "tasks" && !suffix.taskId) {
      if (wantsText(c)) {
        const text = await stub.marathonTasksText(id);
        if (text === undefined) throw notFound(`App '${id}' does not exist`);
        return plainText(c, text);
      }
      const app = await stub.marathonApp(id);
      if (!app) throw notFound(`App '${id}' does not exist`);
      return c.json({ tasks: (await stub.marathonTasks(id)).map(taskWire) });
    }
    if (suffix.kind === "versions") {
      if (suffix.version) {
        const app = await stub.marathonVersion(id, suffix.version);
        if (!app) throw notFound(`App '${id}' has no version '${suffix.version}'`);
        return c.json(app);
      }
      const versions = await stub.marathonVersions(id);
      if (!versions) throw notFound(`App '${id}' does not exist`);
      return c.json({ versions });
    }
    if (suffix.kind !== "app") throw new ApiError("method_not_allowed", `GET is not allowed on ${c.req.path}`);
    const app = await stub.marathonApp(id, appEmbeds(c, APP_SHOW_EMBEDS));
    if (!app) throw notFound(`App '${id}' does not exist`);
    return c.json({ app: appWire(app) });
  })
  .put("/", jsonBody(AppList), (c) => bulkUpdate(c, c.req.valid("json"), flag(c, "partialUpdate", true)))
  .patch("/", jsonBody(AppList), (c) => bulkUpdate(c, c.req.valid("json"), true))
  .put("/*", jsonBody(AnyObject), async (c) => {
    const { id, suffix } = appPath(c);
    if (suffix.kind !== "app") throw new ApiError("method_not_allowed", `PUT is not allowed on ${c.req.path}`);
    const body = c.req.valid("json");
    const force = flag(c, "force");
    const stub = cluster(c);
    if (Object.keys(body).length === 1 && typeof body.version === "string") {
      // Marathon: a body of just {version} rolls the app back to that version.
      const previous = await stub.marathonVersion(id, body.version);
      if (!previous) throw notFound(`App '${id}' has no version '${body.version}'`);
      return deploymentResponse(c, unwrap(await acting(c).marathonReplace(previous, force)));
    }
    if (body.id !== undefined && typeof body.id === "string" && safeNormalize(body.id) !== id) {
      throw validationError([{ path: "/id", errors: [`the id in the body ('${body.id}') differs from the path ('${id}')`] }]);
    }
    // Marathon merges onto the stored app unless `?partialUpdate=false`; an app that does not
    // exist yet is created from the body either way.
    if (flag(c, "partialUpdate", true)) {
      const patched = await acting(c).marathonPatch(id, body, force);
      if (!failedWith(patched, "not_found")) return deploymentResponse(c, unwrap(patched));
    }
    const parsed = parseAppDefinition({ ...body, id });
    if (!parsed.ok) throw validationError(parsed.details);
    return deploymentResponse(c, unwrap(await acting(c).marathonReplace(parsed.app, force)));
  })
  .patch("/*", jsonBody(AnyObject), async (c) => {
    const { id, suffix } = appPath(c);
    if (suffix.kind !== "app") throw new ApiError("method_not_allowed", `PATCH is not allowed on ${c.req.path}`);
    return deploymentResponse(c, unwrap(await acting(c).marathonPatch(id, c.req.valid("json"), flag(c, "force"))));
  })
  .post("/*", async (c) => {
    const { id, suffix } = appPath(c);
    if (suffix.kind !== "restart") throw new ApiError("method_not_allowed", `POST is not allowed on ${c.req.path}`);
    return deploymentResponse(c, unwrap(await acting(c).marathonRestart(id, flag(c, "force"))));
  })
  .delete("/*", async (c) => {
    const { id, suffix } = appPath(c);
    const stub = cluster(c);
    if (suffix.kind === "app") return deploymentResponse(c, unwrap(await acting(c).marathonDelete(id, flag(c, "force"))));
    if (suffix.kind !== "tasks") throw new ApiError("method_not_allowed", `DELETE is not allowed on ${c.req.path}`);
    const host = c.req.query("host");
    const ids = suffix.taskId ? [suffix.taskId] : (await stub.marathonTasks(id)).filter((t) => !host || host === "*" || t.host === host).map((t) => t.id);
    if (!suffix.taskId && !(await stub.marathonApp(id))) throw notFound(`App '${id}' does not exist`);
    const scale = killScales(c);
    const result = ids.length > 0 ? unwrap(await acting(c).marathonKill(ids, scale, id)) : { tasks: [], deployment: undefined };
    if (scale && result.deployment) return deploymentResponse(c, result.deployment);
    return suffix.taskId ? c.json({ task: result.tasks[0] && taskWire(result.tasks[0]) }) : c.json({ tasks: result.tasks.map(taskWire) });
  });

function safeNormalize(raw: string): string | undefined {
  try {
    return normalizeAppId(raw);
  } catch {
    return undefined;
  }
}
