import { CosmosError } from "./errors.ts";
import { readBounded } from "./read-bounded.ts";
import type { PackageDefinition } from "./universe.ts";

/**
 * Cosmos's `GET /package/resource?url=…` (ResourceProxyHandler): the bytes of a package's
 * resource (an icon, a screenshot, an asset, a CLI binary) fetched through the control plane,
 * so a browser shows images from repositories it cannot reach or may not trust. Only a URL
 * that some package of the cluster's repositories names in its `resource` is fetched (anything
 * else is Cosmos's 403 Forbidden), within a time and size bound.
 */

/** Cosmos's own bound is a flag; a resource larger than this is refused (ResourceTooLarge). */
export const MAX_RESOURCE_BYTES = 5 * 1024 * 1024;

const strings = (v: unknown): string[] =>
  typeof v === "string" ? [v] : Array.isArray(v) ? v.flatMap(strings) : typeof v === "object" && v !== null ? Object.values(v).flatMap(strings) : [];

/** Every URL a package's `resource` names: images, asset URIs, CLI binaries (not Docker image names). */
export function resourceUrls(pkg: PackageDefinition): string[] {
  const r = pkg.resource;
  if (!r) return [];
  const binaries = Object.values(r.cli?.binaries ?? {}).flatMap((byArch) => Object.values(byArch).map((b) => b.url));
  return [...strings(r.images), ...strings(r.assets?.uris), ...binaries].filter((u) => /^https?:\/\//i.test(u));
}

/** Checks the `url` query: present and absolute http(s). */
export function resourceUrl(raw: string | undefined): URL {
  if (raw === undefined || raw === "")
    throw new CosmosError("MalformedRequest", "The query parameter 'url' is required: the resource's URL.", {
      errors: [{ path: "url", errors: ["required"] }],
    });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CosmosError("EndpointUriSyntax", `'${raw.slice(0, 200)}' is not an absolute URL.`, { uri: raw.slice(0, 2048) });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CosmosError("EndpointUriSyntax", `The resource URL must be http or https, not ${url.protocol}.`, { uri: raw.slice(0, 2048) });
  return url;
}

/** Fetches an allowed resource: its bytes and Content-Type; errors are Cosmos's (502 when the upstream fails). */
export async function fetchResource(url: URL, timeoutMs: number): Promise<{ body: Uint8Array<ArrayBuffer>; contentType: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: controller.signal, redirect: "follow" });
    } catch (err) {
      const cause = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
      throw new CosmosError("EndpointUriConnection", `Could not fetch ${url.href}: ${cause}.`, { uri: url.href, cause });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new CosmosError("GenericHttpError", `The resource at ${url.href} answered HTTP ${res.status}.`, { uri: url.href, clientStatus: res.status });
    }
    const tooLarge = () =>
      new CosmosError("ResourceTooLarge", `The resource at ${url.href} is larger than ${MAX_RESOURCE_BYTES} bytes.`, { limit: MAX_RESOURCE_BYTES });
    const body = await readBounded(res, MAX_RESOURCE_BYTES, tooLarge).catch((err: unknown) => {
      if (err instanceof CosmosError) throw err;
      throw new CosmosError(
        "EndpointUriConnection",
        `Could not read ${url.href}: ${controller.signal.aborted ? `no complete answer within ${timeoutMs} ms` : String(err)}.`,
        { uri: url.href },
      );
    });
    return { body, contentType: res.headers.get("Content-Type") ?? "application/octet-stream" };
  } finally {
    clearTimeout(timer);
  }
}
