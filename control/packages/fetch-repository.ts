import { CosmosError } from "./errors.ts";
import { readBounded } from "./read-bounded.ts";
import { REPO_ACCEPT, repoMediaVersion } from "./media-types.ts";
import { parseRepository, type PackageDefinition } from "./universe.ts";

/**
 * Fetching a Universe repository as Cosmos's UniverseClient does (Accept v5, v4, v3; the
 * version decided by the response's Content-Type), bounded in time and size: a slow or huge
 * repository is refused with the reason rather than holding the request or the object.
 */

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = { timeoutMs: 10_000, maxBytes: 8 * 1024 * 1024 };

/** Cosmos's User-Agent: Universe servers filter packages by the `dcos/<release>` in it. */
export const USER_AGENT = "cosmos/0.6.0 dcos/1.13.0 dcx";

export type FetchResult = { packages: PackageDefinition[]; etag: string | null } | { notModified: true };

/** Checks a repository URI: http or https, absolute. */
export function checkRepositoryUri(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new CosmosError("RepositoryUriSyntax", `The repository URI '${uri}' is not an absolute URI.`, { uri });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CosmosError("RepositoryUriSyntax", `The repository URI '${uri}' must be http or https.`, { uri });
  return url;
}

async function get(uri: string, etag: string | null, limits: FetchLimits, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: REPO_ACCEPT, "User-Agent": USER_AGENT };
  if (etag) headers["If-None-Match"] = etag;
  try {
    return await fetch(uri, { headers, signal, redirect: "follow" });
  } catch (err) {
    const timedOut = signal.aborted;
    const cause = timedOut ? `no answer within ${limits.timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    throw new CosmosError("RepositoryUriConnection", `Could not fetch the repository at ${uri}: ${cause}.`, { uri, cause });
  }
}

/**
 * Fetches and validates the repository at `uri`. With the `etag` of the stored copy, a 304
 * answers `{notModified: true}`. Throws a CosmosError naming the reason for anything else.
 */
export async function fetchRepository(uri: string, etag: string | null = null, limits: FetchLimits = DEFAULT_FETCH_LIMITS): Promise<FetchResult> {
  checkRepositoryUri(uri);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limits.timeoutMs);
  try {
    const res = await get(uri, etag, limits, controller.signal);
    if (res.status === 304 && etag) return { notModified: true };
    if (!res.ok) {
      await res.body?.cancel();
      throw new CosmosError("UniverseClientHttpError", `The repository at ${uri} answered HTTP ${res.status}.`, { uri, status: res.status });
    }
    const media = repoMediaVersion(res.headers.get("Content-Type"));
    if (media.error) throw new CosmosError("UnsupportedRepositoryVersion", `The repository at ${uri}: ${media.error}.`, { uri });
    const tooLarge = () =>
      new CosmosError("RepositoryTooLarge", `The repository at ${uri} is larger than ${limits.maxBytes} bytes.`, { uri, maxBytes: limits.maxBytes });
    const bytes = await readBounded(res, limits.maxBytes, tooLarge).catch((err: unknown) => {
      if (err instanceof CosmosError) throw err;
      throw new CosmosError(
        "RepositoryUriConnection",
        `Could not read the repository at ${uri}: ${controller.signal.aborted ? `no complete answer within ${limits.timeoutMs} ms` : String(err)}.`,
        { uri },
      );
    });
    return { packages: parseText(new TextDecoder().decode(bytes), uri, media.version), etag: res.headers.get("ETag") };
  } finally {
    clearTimeout(timer);
  }
}

function parseText(text: string, uri: string, version: 3 | 4 | 5 | undefined): PackageDefinition[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CosmosError("RepositoryInvalid", `The repository at ${uri} is not JSON.`, { uri });
  }
  const parsed = parseRepository(json, version);
  if (!parsed.ok) {
    const first = parsed.errors
      .slice(0, 3)
      .map((e) => `${e.path}: ${e.errors.join(", ")}`)
      .join("; ");
    throw new CosmosError("RepositoryInvalid", `The repository at ${uri} is not a valid Universe repository: ${first}.`, {
      uri,
      errors: parsed.errors.slice(0, 100),
    });
  }
  return parsed.packages;
}
