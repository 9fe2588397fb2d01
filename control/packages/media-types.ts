/**
 * Cosmos's versioned media types: `application/vnd.dcos.<ns>.<kind>+json;charset=utf-8;version=vN`.
 * The DC/OS CLI refuses a response whose Content-Type does not contain the exact Accept string
 * it sent, so responses echo the canonical form of the version asked for.
 */

export const ERROR_MEDIA_TYPE = "application/vnd.dcos.package.error+json;charset=utf-8;version=v1";

/** Where a repository advertises its format (Cosmos asks for v5, v4, v3 in that order). */
export const REPO_ACCEPT = [5, 4, 3].map((v) => `application/vnd.dcos.universe.repo+json;charset=utf-8;version=v${v}`).join(",");

/** The media type of a kind (`package.install-response`) at a version. */
export function mediaType(kind: string, version: number): string {
  return `application/vnd.dcos.${kind}+json;charset=utf-8;version=v${version}`;
}

interface Parsed {
  type: string;
  params: Record<string, string>;
}

function parseOne(text: string): Parsed {
  const [type = "", ...params] = text.split(";").map((s) => s.trim());
  return {
    type: type.toLowerCase(),
    params: Object.fromEntries(params.map((p) => p.split("=").map((s) => s.trim().toLowerCase()) as [string, string]).filter(([k]) => k)),
  };
}

/** The media ranges of an Accept header, in the order given (`q` values are honoured when set). */
function acceptList(header: string): Parsed[] {
  const ranges = header
    .split(",")
    .filter((s) => s.trim() !== "")
    .map(parseOne);
  return ranges
    .map((r, i) => ({ r, i, q: r.params.q === undefined ? 1 : Number(r.params.q) }))
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i)
    .map((x) => x.r);
}

/**
 * The response version to answer with: the first version the client accepts among those the
 * server speaks (`supported`, preferred first), `undefined` when it accepts none of them.
 * A client that asks for JSON or anything gets the preferred version.
 */
export function negotiate(accept: string | undefined, kind: string, supported: readonly number[]): number | undefined {
  const wanted = `application/vnd.dcos.${kind}+json`;
  for (const range of acceptList(accept ?? "*/*")) {
    if (range.type === wanted) {
      const v = Number(range.params.version?.replace(/^v/, ""));
      if (range.params.version === undefined) return supported[0];
      if (supported.includes(v)) return v;
    } else if (["*/*", "application/*", "application/json"].includes(range.type)) return supported[0];
  }
  return undefined;
}

/**
 * Whether a request's Content-Type is acceptable for a request kind: plain JSON, or the
 * kind's own vnd type at a version the server reads. A missing Content-Type is read as JSON.
 */
export function requestTypeOk(contentType: string | undefined, kind: string, versions: readonly number[] = [1]): boolean {
  if (!contentType) return true;
  const { type, params } = parseOne(contentType);
  if (type === "application/json") return true;
  if (type !== `application/vnd.dcos.${kind}+json`) return false;
  return params.version === undefined || versions.includes(Number(params.version.replace(/^v/, "")));
}

/** The packaging version a repository's Content-Type names (`…universe.repo+json;version=v4`), if any. */
export function repoMediaVersion(contentType: string | null): { version?: 3 | 4 | 5; error?: string } {
  if (!contentType) return {};
  const { type, params } = parseOne(contentType);
  if (type === "application/vnd.dcos.universe.repo+json") {
    const v = Number(params.version?.replace(/^v/, "") ?? "5");
    if (v === 3 || v === 4 || v === 5) return { version: v };
    return { error: `repository media type version ${params.version} is not supported (v3, v4 and v5 are)` };
  }
  if (type === "application/zip") return { error: "zip repositories (Universe v2) are not supported; serve the repository's JSON" };
  return {};
}
