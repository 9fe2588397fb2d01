import { encodeBase64, type PackageDefinition } from "./universe.ts";
import { dropNulls, type JsonObject } from "./options.ts";

/**
 * The `DCOS_PACKAGE_*` labels Cosmos puts on an installed app. They are the only record of what
 * is installed: `package list` and `uninstall` read them back from the apps, so there is no
 * second store to drift from the running apps.
 */
export const PACKAGE_NAME = "DCOS_PACKAGE_NAME";
export const PACKAGE_VERSION = "DCOS_PACKAGE_VERSION";
export const PACKAGE_SOURCE = "DCOS_PACKAGE_SOURCE";
export const PACKAGE_OPTIONS = "DCOS_PACKAGE_OPTIONS";
export const PACKAGE_DEFINITION = "DCOS_PACKAGE_DEFINITION";

/** The media type of a package definition inside the storage envelope of the definition label. */
export const packageMediaType = (pkg: PackageDefinition) => `application/vnd.dcos.universe.package+json;charset=utf-8;version=v${pkg.packagingVersion[0]}`;

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/** The labels Cosmos sets on an app installed from `pkg` (found in repository `source`) with the user's `options`. */
export async function packageLabels(pkg: PackageDefinition, source: string, options: JsonObject): Promise<Record<string, string>> {
  // Cosmos's StorageEnvelope: the compact package JSON, gzipped, with its media type.
  const envelope = {
    metadata: { "Content-Type": packageMediaType(pkg), "Content-Encoding": "gzip" },
    data: encodeBase64(await gzip(JSON.stringify(pkg))),
  };
  return {
    [PACKAGE_NAME]: pkg.name,
    [PACKAGE_VERSION]: pkg.version,
    [PACKAGE_SOURCE]: source,
    [PACKAGE_OPTIONS]: encodeBase64(JSON.stringify(dropNulls(options))),
    [PACKAGE_DEFINITION]: encodeBase64(JSON.stringify(envelope)),
  };
}

/**
 * The package definition stored in an app's `DCOS_PACKAGE_DEFINITION` label, or undefined when
 * the label is missing or not a storage envelope (an app labelled by hand).
 */
export async function decodeDefinition(label: string | undefined): Promise<JsonObject | undefined> {
  if (!label) return undefined;
  try {
    const envelope = JSON.parse(new TextDecoder().decode(fromBase64(label))) as { metadata?: Record<string, string>; data?: string };
    if (typeof envelope.data !== "string") return undefined;
    const bytes = fromBase64(envelope.data);
    const text = envelope.metadata?.["Content-Encoding"] === "gzip" ? await gunzip(bytes) : new TextDecoder().decode(bytes);
    const json: unknown = JSON.parse(text);
    return typeof json === "object" && json !== null && !Array.isArray(json) ? (json as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

/** The user options stored in `DCOS_PACKAGE_OPTIONS`, or undefined when unreadable. */
export function decodeOptions(label: string | undefined): JsonObject | undefined {
  if (!label) return undefined;
  try {
    const json: unknown = JSON.parse(new TextDecoder().decode(fromBase64(label)));
    return typeof json === "object" && json !== null && !Array.isArray(json) ? (json as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}
