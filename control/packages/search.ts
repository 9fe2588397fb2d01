import { newestFirst, type PackageDefinition } from "./universe.ts";

/** One package in Cosmos's `search-response` (v1). */
export interface SearchResult {
  name: string;
  currentVersion: string;
  /** Every version, mapped to its release version (as a string, as Cosmos sends it). */
  versions: Record<string, string>;
  description: string;
  framework: boolean;
  tags: string[];
  selected: boolean;
  images?: Record<string, unknown>;
}

/**
 * Whether a package answers a search query, as Cosmos's SearchHandler decides: a query with
 * `*` is a wildcard over the name and each tag; any other is a case-insensitive substring of
 * the name, the description or a tag. No query (or an empty one) matches everything.
 */
export function matches(pkg: PackageDefinition, query: string | undefined): boolean {
  const q = query?.trim().toLowerCase() ?? "";
  if (q === "") return true;
  if (q.includes("*")) {
    const re = new RegExp(
      `^${q
        .split("*")
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
      "i",
    );
    return re.test(pkg.name) || pkg.tags.some((t) => re.test(t));
  }
  return pkg.name.toLowerCase().includes(q) || pkg.description.toLowerCase().includes(q) || pkg.tags.some((t) => t.toLowerCase().includes(q));
}

/** The search answer for the packages' versions (one group per name): selected packages first, then by name. */
export function searchPackages(groups: PackageDefinition[][], query: string | undefined): SearchResult[] {
  const results: SearchResult[] = [];
  for (const versions of groups) {
    const [current] = newestFirst(versions);
    if (!current || !matches(current, query)) continue;
    results.push({
      name: current.name,
      currentVersion: current.version,
      versions: Object.fromEntries(newestFirst(versions).map((v) => [v.version, String(v.releaseVersion)])),
      description: current.description,
      framework: current.framework ?? false,
      tags: current.tags,
      selected: current.selected ?? false,
      ...(current.resource?.images ? { images: current.resource.images } : {}),
    });
  }
  return results.sort((a, b) => Number(b.selected) - Number(a.selected) || a.name.localeCompare(b.name));
}
