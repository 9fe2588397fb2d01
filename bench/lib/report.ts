import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Nearest-rank percentile of a sample (p in 0..100); NaN for an empty sample. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** The item at the nearest-rank median of `key` (percentile 50: of an even count, the lower middle one); undefined for none. */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T | undefined {
  return [...items].sort((a, b) => key(a) - key(b))[Math.ceil(items.length / 2) - 1];
}

export function round(n: number, digits = 1): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface Row {
  name: string;
  value: string;
  note?: string;
}

/** A plain-text table: name, value, note; columns padded to their widest cell. */
export function table(title: string, rows: Row[]): string {
  const w1 = Math.max(...rows.map((r) => r.name.length), 6);
  const w2 = Math.max(...rows.map((r) => r.value.length), 5);
  const line = "-".repeat(Math.min(120, w1 + w2 + 40));
  const out = [title, line, `${"figure".padEnd(w1)}  ${"value".padStart(w2)}  note`, line];
  for (const r of rows) out.push(`${r.name.padEnd(w1)}  ${r.value.padStart(w2)}  ${r.note ?? ""}`.trimEnd());
  out.push(line);
  return out.join("\n");
}

export function fmt(n: number | null | undefined, digits = 1, unit = ""): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "n/a";
  return `${round(n, digits).toLocaleString("en-US", { maximumFractionDigits: digits })}${unit}`;
}

/** Writes JSON atomically (temp file, then rename), so a reader never sees half a result. */
export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  renameSync(tmp, path);
}
