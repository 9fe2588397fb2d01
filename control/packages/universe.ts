import { z } from "zod";
import { fieldErrors, type FieldError } from "../../protocol/messages.ts";
import { fromBase64, toBase64 } from "../../protocol/bytes.ts";

/**
 * The Universe repository format (mesosphere/universe, `repo/meta/schema/v*-repo-schema.json`):
 * one JSON document `{"packages": [...]}` whose items are packages of packaging versions 2.0 to
 * 5.0. Each version adds fields and forbids some older ones; a package is checked against the
 * rules of its own `packagingVersion`, so a repository may mix them, as Universe's does.
 */

export const PACKAGING_VERSIONS = ["2.0", "3.0", "4.0", "5.0"] as const;
export type PackagingVersion = (typeof PACKAGING_VERSIONS)[number];

/** A package's definition JSON may not exceed this (Cosmos stores it in a Marathon label). */
export const MAX_PACKAGE_BYTES = 512 * 1024;
/** A repository may hold at most this many package versions. */
export const MAX_REPOSITORY_PACKAGES = 5000;

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9]+)*$/;
const VERSION_V3 = /^[-a-zA-Z0-9.]+$/;
const TAG = /^[^\s]+$/;

const Notes = z.string().max(64 * 1024);
const Url = z.string().max(2048);
const Base64 = z.string().regex(/^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/, "must be base64");
const JsonObject = z.record(z.string(), z.unknown(), { message: "must be a JSON object" });

const Docker = z.looseObject({ "image-name": z.string().optional() });
const Binary = z.looseObject({ kind: z.enum(["executable", "zip"]), url: Url, contentHash: z.array(z.looseObject({ algo: z.string(), value: z.string() })) });
/** `resource.json`: images, assets (URIs and Docker images the template refers to), CLI binaries. */
const Resource = z.looseObject({
  assets: z
    .looseObject({ uris: z.record(z.string(), Url).optional(), container: z.looseObject({ docker: z.record(z.string(), z.string()).optional() }).optional() })
    .optional(),
  images: z
    .looseObject({ "icon-small": Url.optional(), "icon-medium": Url.optional(), "icon-large": Url.optional(), screenshots: z.array(Url).optional() })
    .optional(),
  cli: z.looseObject({ binaries: z.record(z.string(), z.record(z.string(), Binary)) }).optional(),
  docker: Docker.optional(),
});

/** Every field any packaging version has; `checkVersionRules` says which a version allows. */
const PackageFields = z.object({
  packagingVersion: z.enum(PACKAGING_VERSIONS, { message: `must be one of ${PACKAGING_VERSIONS.join(", ")}` }),
  name: z.string().max(64).regex(NAME, "must be lowercase letters, digits and dashes, starting and ending with a letter or digit"),
  version: z.string().min(1).max(128),
  releaseVersion: z.number().int().min(0).optional(),
  maintainer: z.string().max(1024),
  description: z.string().max(64 * 1024),
  tags: z.array(z.string().max(128).regex(TAG, "tags may not contain whitespace")).max(64),
  selected: z.boolean().optional(),
  scm: Url.optional(),
  website: Url.optional(),
  framework: z.boolean().optional(),
  preInstallNotes: Notes.optional(),
  postInstallNotes: Notes.optional(),
  postUninstallNotes: Notes.optional(),
  licenses: z.array(z.object({ name: z.string(), url: Url })).optional(),
  minDcosReleaseVersion: z
    .string()
    .regex(/^\d+(\.\d+)*$/, "must be a release version like 1.10")
    .optional(),
  upgradesFrom: z.array(z.string()).optional(),
  downgradesTo: z.array(z.string()).optional(),
  marathon: z.object({ v2AppMustacheTemplate: Base64 }).optional(),
  /** DCX's extension: a Metronome job instead of a Marathon app (a job-style package). */
  metronome: z.object({ v1JobMustacheTemplate: Base64 }).optional(),
  resource: Resource.optional(),
  config: JsonObject.optional(),
  command: z.object({ pip: z.array(z.string()) }).optional(),
  manager: z.looseObject({ packageName: z.string(), minPackageVersion: z.string().optional() }).optional(),
  lastUpdated: z.number().int().optional(),
  hasKnownIssues: z.boolean().optional(),
});

/** A package as the repository defines it (one version of it); Cosmos's `PackageDefinition`. */
export type PackageDefinition = Omit<z.output<typeof PackageFields>, "releaseVersion"> & { releaseVersion: number };

const major = (v: PackagingVersion) => Number(v[0]);

/** Fields that only some packaging versions allow: [field, first version, last version]. */
const FIELD_VERSIONS: [keyof z.output<typeof PackageFields>, number, number][] = [
  ["minDcosReleaseVersion", 3, 5],
  ["command", 2, 3],
  ["upgradesFrom", 4, 5],
  ["downgradesTo", 4, 5],
  ["manager", 5, 5],
  ["lastUpdated", 5, 5],
  ["hasKnownIssues", 5, 5],
];

function checkVersionRules(pkg: z.output<typeof PackageFields>, ctx: z.RefinementCtx): void {
  const v = major(pkg.packagingVersion);
  for (const [field, from, to] of FIELD_VERSIONS) {
    if (pkg[field] !== undefined && (v < from || v > to)) {
      ctx.addIssue({ code: "custom", path: [field], message: `not allowed in packagingVersion ${pkg.packagingVersion} (only ${from}.0 to ${to}.0)` });
    }
  }
  if (v >= 3 && pkg.releaseVersion === undefined) ctx.addIssue({ code: "custom", path: ["releaseVersion"], message: "is required from packagingVersion 3.0" });
  if (v >= 3 && !VERSION_V3.test(pkg.version)) ctx.addIssue({ code: "custom", path: ["version"], message: "must match ^[-a-zA-Z0-9.]+$" });
  if (pkg.marathon !== undefined && pkg.metronome !== undefined)
    ctx.addIssue({ code: "custom", path: ["metronome"], message: "a package installs an app (marathon) or a job (metronome), not both" });
  if (pkg.config !== undefined && pkg.config.type !== undefined && pkg.config.type !== "object") {
    ctx.addIssue({ code: "custom", path: ["config", "type"], message: 'a package config schema must describe an object ("type": "object")' });
  }
}

const Package = PackageFields.superRefine(checkVersionRules).transform((p): PackageDefinition => ({ ...p, releaseVersion: p.releaseVersion ?? 0 }));

const Repository = z.object(
  { packages: z.array(z.unknown()).max(MAX_REPOSITORY_PACKAGES) },
  { message: 'a Universe repository is a JSON object {"packages": [...]}' },
);

/** A repository's parse: its packages, or every problem with the path (`/packages/3/version`) where it lies. */
export type RepositoryParse = { ok: true; packages: PackageDefinition[] } | { ok: false; errors: FieldError[] };

/**
 * Parses a Universe repository document. `repoVersion` is the version named by the response's
 * media type (`…universe.repo+json;version=v4`): a package newer than it is refused, as Cosmos
 * refuses a 5.0 package in a v4 repository. Versions of one package must be distinct.
 */
export function parseRepository(json: unknown, repoVersion: 3 | 4 | 5 = 5): RepositoryParse {
  const repo = Repository.safeParse(json);
  if (!repo.success) return { ok: false, errors: fieldErrors(repo.error) };
  const errors: FieldError[] = [];
  const packages: PackageDefinition[] = [];
  const seen = new Set<string>();
  repo.data.packages.forEach((raw, i) => {
    const at = (path: string) => `/packages/${i}${path}`;
    const parsed = Package.safeParse(raw);
    if (!parsed.success) {
      for (const e of fieldErrors(parsed.error)) errors.push({ path: at(e.path === "/" ? "" : e.path), errors: e.errors });
      return;
    }
    const pkg = parsed.data;
    if (major(pkg.packagingVersion) > repoVersion)
      errors.push({ path: at("/packagingVersion"), errors: [`a v${repoVersion} repository may not hold packagingVersion ${pkg.packagingVersion}`] });
    else if (JSON.stringify(raw).length > MAX_PACKAGE_BYTES) errors.push({ path: at(""), errors: [`the package is larger than ${MAX_PACKAGE_BYTES} bytes`] });
    else if (seen.has(`${pkg.name}@${pkg.version}`)) errors.push({ path: at("/version"), errors: [`${pkg.name} ${pkg.version} appears twice`] });
    else {
      seen.add(`${pkg.name}@${pkg.version}`);
      packages.push(pkg);
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, packages };
}

/** The base64 of a package's template (`marathon.v2AppMustacheTemplate`, or `metronome.v1JobMustacheTemplate` for a job), decoded as UTF-8. */
export function decodeTemplate(pkg: PackageDefinition): string | undefined {
  const b64 = pkg.marathon?.v2AppMustacheTemplate ?? pkg.metronome?.v1JobMustacheTemplate;
  if (b64 === undefined) return undefined;
  return new TextDecoder().decode(fromBase64(b64));
}

/** Base64 of UTF-8 text (templates, labels). */
export function encodeBase64(text: string | Uint8Array): string {
  return toBase64(typeof text === "string" ? new TextEncoder().encode(text) : text);
}

/** Versions of one package, newest first (by `releaseVersion`, as Cosmos orders them). */
export function newestFirst(versions: PackageDefinition[]): PackageDefinition[] {
  return [...versions].sort((a, b) => b.releaseVersion - a.releaseVersion);
}
