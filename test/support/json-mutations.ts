/**
 * Seeded hostile JSON for fuzzing frames and bodies: random values of every type and size, and
 * mutations of a valid template (one field replaced, removed or nested deeper, a string grown
 * huge, a number made extreme), so most cases get past the first checks and hit the deep ones.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const STRINGS = [
  "",
  " ",
  "../..",
  "/",
  "%2e%2e",
  "\u0000",
  "\r\n",
  "é∂🙂",
  "-1",
  "1e309",
  "true",
  "null",
  "__proto__",
  "constructor",
  "<script>",
  "a".repeat(300),
];
const NUMBERS = [0, -1, 1, 0.5, -0.0001, 1e21, -1e21, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 65535, 65536, 4294967296];

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

/** A random JSON value, at most `depth` levels deep. */
export function randomJson(random: () => number, depth = 3): Json {
  const kind = Math.floor(random() * (depth > 0 ? 7 : 5));
  if (kind === 0) return null;
  if (kind === 1) return random() < 0.5;
  if (kind === 2) return pick(random, NUMBERS) * (random() < 0.2 ? random() : 1);
  if (kind === 3) return pick(random, STRINGS);
  if (kind === 4) return String.fromCharCode(...Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 0xffff)));
  if (kind === 5) return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(random, depth - 1));
  const out: Record<string, Json> = {};
  for (let i = Math.floor(random() * 4); i > 0; i--)
    out[pick(random, ["id", "type", "cmd", "__proto__", "x", pick(random, STRINGS)])] = randomJson(random, depth - 1);
  return out;
}

/** Every path to a value inside `value` (object keys and array indexes). */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** A copy of `template` with one place changed in a hostile way. */
export function mutate(template: Json, random: () => number): Json {
  const copy = structuredClone(template);
  const all = paths(copy).filter((p) => p.length > 0);
  const path = all.length === 0 ? undefined : pick(random, all);
  if (path === undefined) return randomJson(random);
  const parent = path.slice(0, -1).reduce<Json>((node, key) => (node as Record<string | number, Json>)[key] as Json, copy) as Record<string | number, Json>;
  const key = path[path.length - 1] as string | number;
  const how = Math.floor(random() * 6);
  if (how === 0 && !Array.isArray(parent)) delete parent[key];
  else if (how === 1) parent[key] = "x".repeat(Math.floor(random() * 200_000));
  else if (how === 2) parent[key] = nest(parent[key] ?? null, 1 + Math.floor(random() * 80));
  else if (how === 3) parent[key] = pick(random, NUMBERS) * -1;
  else parent[key] = randomJson(random);
  return copy;
}

function nest(value: Json, depth: number): Json {
  let out = value;
  for (let i = 0; i < depth; i++) out = [out];
  return out;
}
