import type { Context } from "hono";
import type { z } from "zod";
import { fieldErrors } from "../../../protocol/messages.ts";
import type { AppEnv } from "../../http/env.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan, registerBodySchema } from "../../http/middleware.ts";
import { CosmosError, renderCosmosError } from "../../packages/errors.ts";
import { mediaType, negotiate, requestTypeOk } from "../../packages/media-types.ts";
import { frameworkScope } from "../../packages/framework-install.ts";
import type { PackageScope } from "../../packages/operations.ts";
import { acting, cluster } from "../marathon/outcome.ts";

/** The cluster's object, configuration and `waitUntil`, for the package operations. */
export const scopeOf = (c: Context<AppEnv>): PackageScope => ({
  stub: cluster(c),
  acting: acting(c),
  env: c.env,
  waitUntil: (p) => c.executionCtx.waitUntil(p),
  framework: frameworkScope(c.env, c.get("db"), c.get("cluster").id, c.get("user").id, c.req.url),
});

/** One Cosmos endpoint: its request and response kinds, the response versions it speaks (preferred first), its body. */
export interface CosmosSpec<S extends z.ZodType> {
  request: string;
  response: string;
  versions: readonly number[];
  body: S;
}

async function readBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  let json: unknown = {};
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      throw new CosmosError("MalformedRequest", "Malformed JSON in request body.");
    }
  }
  if (nestsDeeperThan(json, MAX_JSON_DEPTH)) throw new CosmosError("MalformedRequest", `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error);
    throw new CosmosError("MalformedRequest", `Invalid request: ${errors.map((e) => `${e.path}: ${e.errors.join(", ")}`).join("; ")}`, { errors });
  }
  return parsed.data;
}

/**
 * A Cosmos endpoint's handler: checks the request's media type, picks the response version
 * from Accept, validates the body, and answers with the exact media type of that version (the
 * DC/OS CLI refuses a Content-Type that does not contain the Accept it sent). Every failure is
 * answered here as a Cosmos error; the handler itself is what the route table holds, so the
 * OpenAPI document finds its body schema.
 */
export function cosmos<S extends z.ZodType>(spec: CosmosSpec<S>, handle: (c: Context<AppEnv>, body: z.output<S>, version: number) => Promise<unknown>) {
  const answer = async (c: Context<AppEnv>) => {
    const contentType = c.req.header("Content-Type");
    if (!requestTypeOk(contentType, spec.request)) {
      throw new CosmosError("UnsupportedContentType", `Unsupported Content-Type '${contentType}': send ${mediaType(spec.request, 1)} or application/json.`);
    }
    const version = negotiate(c.req.header("Accept"), spec.response, spec.versions);
    if (version === undefined) {
      const offered = spec.versions.map((v) => mediaType(spec.response, v)).join(", ");
      throw new CosmosError("NotAcceptable", `None of the accepted media types can be served; this endpoint answers ${offered}.`, {
        accept: c.req.header("Accept") ?? null,
      });
    }
    const result = await handle(c, await readBody(c, spec.body), version);
    return c.body(JSON.stringify(result), 200, { "Content-Type": mediaType(spec.response, version) });
  };
  const handler = async (c: Context<AppEnv>) => {
    try {
      return await answer(c);
    } catch (err) {
      return renderCosmosError(err, c);
    }
  };
  registerBodySchema(handler, spec.body);
  return handler;
}
