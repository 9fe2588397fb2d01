import type { Context } from "hono";
import { ApiError } from "../errors.ts";

/**
 * Query parameters and path ids read as Marathon and Metronome read them, so that a client
 * written against them means the same thing here. Marathon's JAX-RS resources take a boolean
 * with `Boolean.valueOf` (any case: `True` from Python's `requests`, `true` from curl), a
 * repeated parameter as a list, and a path id with its slashes collapsed (`PathId`).
 */

const TRUE = /^(true|1|)$/i;
const FALSE = /^(false|0)$/i;

/**
 * A boolean query parameter: `true` in any case, `1`, or the bare `?name` are true; `false`
 * in any case and `0` are false; absent is `fallback`. Marathon reads any other value as
 * false, which would turn a typo in `?force=ture` into a silent no; here it is a 400 naming
 * the parameter. When repeated, the first value counts, as in JAX-RS.
 */
export function parseFlag(name: string, value: string | undefined, fallback = false): boolean {
  if (value === undefined) return fallback;
  const v = value.trim();
  if (TRUE.test(v)) return true;
  if (FALSE.test(v)) return false;
  throw new ApiError("malformed", `Query parameter '${name}' must be true or false, not '${value.slice(0, 64)}'.`, [
    { path: name, errors: [`'${value.slice(0, 64)}' is not a boolean (true or false)`] },
  ]);
}

/** `parseFlag` on a request's query parameter. */
export function flag(c: Context, name: string, fallback = false): boolean {
  return parseFlag(name, c.req.query(name), fallback);
}

/**
 * The values of a list parameter, given repeated (`?embed=a&embed=b`), comma-separated
 * (`?embed=a,b`) or both, trimmed, without empty entries, in order.
 */
export function listValues(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/** `listValues` of every name given (`status` and `status[]` are one list in Marathon). */
export function list(c: Context, ...names: string[]): string[] {
  return names.flatMap((name) => listValues(c.req.queries(name)));
}

/**
 * An id taken from a URL path, as Marathon's `PathId` reads it: absolute whether or not the
 * client wrote the leading slash, and with runs of slashes collapsed (a client that joins
 * `/v2/apps/` and `/web` asks for `/v2/apps//web`). Validation of the segments is the
 * caller's; this only settles the spelling.
 */
export function pathId(raw: string): string {
  return (
    "/" +
    raw
      .split("/")
      .filter((s) => s !== "")
      .join("/")
  );
}
