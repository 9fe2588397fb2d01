import { Validator, type OutputUnit, type SchemaDraft } from "@cfworker/json-schema";

/**
 * A package's options as Cosmos computes them: the `default`s of its config schema, the user's
 * options merged over them, and the result checked against the schema. The validator is
 * @cfworker/json-schema: it interprets schemas (no `new Function`, which Workers forbid).
 */

export type JsonObject = Record<string, unknown>;

/** One way the options break the schema, at a JSON pointer into the options (`/redis/cpus`). */
export interface OptionError {
  path: string;
  keyword: string;
  message: string;
}

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The defaults a config schema declares, as Cosmos's `extractDefaultsFromSchema`: every
 * property with a `default`, and every property with `properties` of its own, recursively
 * (even when none of those has a default, so templates may walk into it).
 */
export function schemaDefaults(schema: JsonObject): JsonObject {
  const props = isObject(schema.properties) ? schema.properties : {};
  const out: JsonObject = {};
  for (const [name, prop] of Object.entries(props)) {
    if (!isObject(prop)) continue;
    if ("default" in prop) out[name] = structuredClone(prop.default);
    else if (isObject(prop.properties)) out[name] = schemaDefaults(prop);
  }
  return out;
}

/** `over` merged onto `base`: objects merge key by key, anything else (arrays too) replaces. */
export function deepMerge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** The value with every `null` member of an object removed (Cosmos stores options so). */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (v === null ? [] : [[k, dropNulls(v)]])));
}

const DRAFTS: [RegExp, SchemaDraft][] = [
  [/draft-04/, "4"],
  [/draft-07/, "7"],
  [/2019-09/, "2019-09"],
  [/2020-12/, "2020-12"],
];

/** Universe's schemas are draft 4 (`"$schema": "http://json-schema.org/schema#"` or none). */
function draftOf(schema: JsonObject): SchemaDraft {
  const id = typeof schema.$schema === "string" ? schema.$schema : "";
  return DRAFTS.find(([re]) => re.test(id))?.[1] ?? "4";
}

/**
 * Checks options against a config schema. Only the innermost failures are reported: the
 * validator also reports each enclosing `properties`/`allOf` as failing, which names no field.
 */
export function validateOptions(schema: JsonObject, options: JsonObject): OptionError[] {
  let validator: Validator;
  // The validator annotates the schema it is given (dereferencing), so it gets a copy.
  try {
    validator = new Validator(structuredClone(schema), draftOf(schema), false);
  } catch (err) {
    return [{ path: "", keyword: "$schema", message: `the package's config schema cannot be used: ${err instanceof Error ? err.message : String(err)}` }];
  }
  const result = validator.validate(options);
  if (result.valid) return [];
  const leaves = result.errors.filter((e) => !WRAPPERS.has(e.keyword));
  return dedupe((leaves.length > 0 ? leaves : result.errors).map(toOptionError));
}

const WRAPPERS = new Set([
  "properties",
  "allOf",
  "items",
  "$ref",
  "additionalItems",
  "prefixItems",
  "patternProperties",
  "dependentSchemas",
  "unevaluatedProperties",
  "unevaluatedItems",
  "if",
  "then",
  "else",
]);

function toOptionError(e: OutputUnit): OptionError {
  const path = decodeURIComponent(e.instanceLocation.replace(/^#/, ""));
  return { path: path === "" ? "/" : path, keyword: e.keyword, message: e.error };
}

function dedupe(errors: OptionError[]): OptionError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\0${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
