import { describe, expect, it } from "vitest";
import { jsonParams } from "../../control/cluster/tasks.ts";

/**
 * jsonParams: the rows of bulk statements as JSON array parameters, within 1,000 rows and
 * 500,000 characters each (a SQLite value is capped at 2 MB on Cloudflare), rows in order.
 */
describe("jsonParams", () => {
  it("writes each statement's rows as one JSON array, 1,000 rows at most", () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `task-${i}`);
    const params = jsonParams(ids);
    expect(params.map((p) => (JSON.parse(p) as string[]).length)).toEqual([1000, 1000, 500]);
    expect(params.flatMap((p) => JSON.parse(p) as string[])).toEqual(ids);
    expect(params[0]).toBe(JSON.stringify(ids.slice(0, 1000)));
    expect(jsonParams([])).toEqual([]);
  });

  it("splits rows too long for one value into parts within the character cap, in order", () => {
    const rows = Array.from({ length: 300 }, (_, i) => [i, "x".repeat(4000)]);
    const params = jsonParams(rows);
    expect(params.length).toBeGreaterThan(2);
    for (const p of params) expect(p.length).toBeLessThanOrEqual(500_000);
    expect(params.flatMap((p) => JSON.parse(p) as unknown[])).toEqual(rows);
  });

  it("takes rows that are JSON texts already as they are", () => {
    const texts = ['{"a":1}', '{"b":[2]}'];
    expect(jsonParams(texts, (t) => t)).toEqual(['[{"a":1},{"b":[2]}]']);
  });
});
