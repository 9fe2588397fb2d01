/** A whole-number command-line option of a benchmark, at least `min`; anything else is a usage error naming the flag. */
export function intOption(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw Object.assign(new Error(`--${name} must be an integer >= ${min}, got '${value}'`), { name: "UsageError" });
  return n;
}
