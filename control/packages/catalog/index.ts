import { encodeBase64, parseRepository, type PackageDefinition } from "../universe.ts";
import type { CatalogPackage } from "./common.ts";
import { helloWorld } from "./hello-world.ts";
import { httpCheck } from "./http-check.ts";
import { nginx } from "./nginx.ts";
import { postgresql } from "./postgresql.ts";
import { redis } from "./redis.ts";

/**
 * DCX's built-in repository: packages bundled in the Worker, so a new cluster can install
 * services with no repository to reach. It sits in each cluster's repository list from the
 * start (first), and may be removed and added back by its URI like any other.
 */
export const BUILTIN_REPOSITORY = { name: "dcx-universe", uri: "builtin:dcx-universe" } as const;

const toUniverse = ({ template, kind, ...pkg }: CatalogPackage) =>
  kind === "job"
    ? { ...pkg, metronome: { v1JobMustacheTemplate: encodeBase64(template) } }
    : { ...pkg, marathon: { v2AppMustacheTemplate: encodeBase64(template) } };

/** The built-in repository as a Universe document (what `GET` of a v4 repository would serve). */
export const BUILTIN_REPOSITORY_JSON = { packages: [nginx, redis, postgresql, httpCheck, helloWorld].map(toUniverse) };

function parseBuiltin(): PackageDefinition[] {
  const parsed = parseRepository(BUILTIN_REPOSITORY_JSON, 4);
  // The catalog is part of the code: a package that does not parse is a bug, caught by the tests.
  if (!parsed.ok) throw new Error(`the built-in repository is invalid: ${JSON.stringify(parsed.errors)}`);
  return parsed.packages;
}

/** The built-in packages, parsed as any repository's would be. */
export const BUILTIN_PACKAGES: readonly PackageDefinition[] = parseBuiltin();
