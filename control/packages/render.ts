import Mustache from "mustache";
import { CosmosError } from "./errors.ts";
import { packageLabels } from "./labels.ts";
import { deepMerge, schemaDefaults, validateOptions, type JsonObject } from "./options.ts";
import { decodeTemplate, type PackageDefinition } from "./universe.ts";

/**
 * How Cosmos turns a package and the user's options into a Marathon app
 * (PackageDefinitionRenderer): defaults + options, validated; the template rendered with the
 * options and `resource` in scope; `id` overridden by `appId`; the `DCOS_PACKAGE_*` labels
 * merged over the template's own (they cannot be overridden).
 */

/** A rendered template may not be larger than this. */
export const MAX_RENDERED_BYTES = 1024 * 1024;

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Values are inserted as JSON string contents: HTML escaping is off, and a string with quotes
 * or newlines cannot break out of the JSON string it sits in. Objects and arrays print as JSON.
 */
function jsonEscape(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value).slice(1, -1);
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

function lookup(scope: JsonObject, path: string): unknown {
  let at: unknown = scope;
  for (const key of path.split(".")) at = isObject(at) ? at[key] : undefined;
  return at;
}

/** Renders a Mustache template with Cosmos's escaping and its `{{#asJson}}path{{/asJson}}` helper. */
export function renderTemplate(template: string, scope: JsonObject): string {
  const view = { ...scope, asJson: () => (text: string) => JSON.stringify(lookup(scope, text.trim()) ?? null) };
  try {
    return Mustache.render(template, view, undefined, { escape: jsonEscape });
  } catch (err) {
    throw new CosmosError(
      "RenderedTemplateNotJson",
      `The package's Marathon template is not a valid Mustache template: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** The options an install runs with: the schema's defaults with the user's merged over, validated. */
export function resolveOptions(pkg: PackageDefinition, options: JsonObject): JsonObject {
  if (!pkg.config) {
    if (Object.keys(options).length > 0) throw new CosmosError("OptionsNotAllowed", `Package ${pkg.name} has no config schema, so it takes no options.`);
    return {};
  }
  const merged = deepMerge(schemaDefaults(pkg.config), options);
  const errors = validateOptions(pkg.config, merged);
  if (errors.length > 0) {
    const summary = errors
      .slice(0, 5)
      .map((e) => `${e.path}: ${e.message}`)
      .join("; ");
    // Each error also in the shape of Cosmos's validation report (`level`, `instance.pointer`), which its clients print.
    const report = errors.map((e) => ({ ...e, level: "error", instance: { pointer: e.path } }));
    throw new CosmosError("JsonSchemaMismatch", `Options do not match the config schema of ${pkg.name} ${pkg.version}: ${summary}`, { errors: report });
  }
  return merged;
}

export interface Rendered {
  /** The Marathon app, or with `kind: "job"` the Metronome job; undefined for a package without a template (a CLI-only package). */
  app?: JsonObject;
  kind: "app" | "job";
  resolvedOptions: JsonObject;
}

/** Renders `pkg` for an install or a render request. Throws CosmosErrors naming what is wrong. */
export async function renderPackage(pkg: PackageDefinition, source: string, options: JsonObject = {}, appId?: string): Promise<Rendered> {
  const resolvedOptions = resolveOptions(pkg, options);
  const template = decodeTemplate(pkg);
  const kind = pkg.metronome ? "job" : "app";
  if (template === undefined) return { kind, resolvedOptions };
  const text = renderTemplate(template, { ...resolvedOptions, resource: pkg.resource ?? {} });
  if (text.length > MAX_RENDERED_BYTES)
    throw new CosmosError("RenderedTemplateNotJson", `The rendered Marathon template is larger than ${MAX_RENDERED_BYTES} bytes.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CosmosError(
      "RenderedTemplateNotJson",
      `The rendered Marathon template of ${pkg.name} ${pkg.version} is not JSON: ${err instanceof Error ? err.message : String(err)}`,
      { rendered: text.slice(0, 4096) },
    );
  }
  if (!isObject(json))
    throw new CosmosError("MarathonTemplateMustBeJsonObject", `The rendered Marathon template of ${pkg.name} ${pkg.version} is not a JSON object.`);
  const labels = isObject(json.labels) ? json.labels : {};
  const app: JsonObject = { ...json, labels: { ...labels, ...(await packageLabels(pkg, source, options)) } };
  if (appId !== undefined) app.id = appId;
  return { app, kind, resolvedOptions };
}
