/**
 * What the CLI prints: aligned tables for people, JSON for scripts (`--json`), progress on
 * stderr so that stdout stays parseable.
 */

/** The `--json` flag every listing and showing command takes. */
export const jsonArg = { json: { type: "boolean", description: "print JSON for scripts instead of a table" } } as const;

export type Cell = string | number | boolean | null | undefined;

/**
 * Renders rows under headers, each column padded to its widest cell and separated by two
 * spaces; the last column is not padded, so no line carries trailing spaces.
 */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = [headers, ...rows].map((row) => headers.map((_, i) => cell(row[i])));
  const widths = headers.map((_, i) => Math.max(...text.map((row) => (row[i] ?? "").length)));
  return (
    text
      .map((row) =>
        row
          .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

function cell(value: Cell): string {
  if (value === null || value === undefined || value === "") return "-";
  return String(value).replace(/\s+/g, " ");
}

/** Writes a value as pretty JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Writes text on stdout, ending it with a newline. */
export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/** A progress or status line on stderr: seen by people, out of the way of `--json` output. */
export function note(text: string): void {
  process.stderr.write(text + "\n");
}

/** Either a table of `rows` or, with `--json`, the `items` themselves as a JSON array. */
export function printList<T>(
  json: boolean | undefined,
  items: readonly T[],
  headers: readonly string[],
  row: (item: T) => readonly Cell[],
  empty: string,
): void {
  if (json) return printJson(items);
  if (items.length === 0) return note(empty);
  print(table(headers, items.map(row)));
}

/** `used/total` with at most two decimals each, e.g. `0.5/2`. */
export function usage(used: number | undefined, total: number | undefined): string {
  return `${decimal(used ?? 0)}/${decimal(total ?? 0)}`;
}

/** A number with at most two decimals and no trailing zeros. */
export function decimal(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** Shortens `s` to `max` characters, marking the cut with an ellipsis. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** An ISO timestamp without milliseconds: `2026-11-02T10:04:05Z`. */
export function shortTime(iso: string | null | undefined): string {
  return iso ? iso.replace(/\.\d+Z$/, "Z") : "-";
}

/** `k:v;k2:v2`, the agent's own attribute syntax. */
export function attributes(attrs: Record<string, unknown> | undefined): string {
  return Object.entries(attrs ?? {})
    .map(([k, v]) => `${k}:${String(v)}`)
    .join(";");
}

/** `label: value` lines with the values aligned, for showing one object; empty values are left out. */
export function fields(pairs: readonly (readonly [string, Cell])[]): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== null && v !== "");
  const width = Math.max(0, ...shown.map(([k]) => k.length)) + 1;
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${String(v)}`).join("\n") + "\n";
}
