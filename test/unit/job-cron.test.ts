import { describe, expect, it } from "vitest";
import { parseCron, type CronExpression } from "../../control/cluster/frameworks/metronome/cron.ts";

/** Metronome's cron dialect evaluated across time zones, daylight saving and the optional year. */

function cron(expr: string, timezone = "UTC"): CronExpression {
  const parsed = parseCron(expr, timezone);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.cron;
}

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The next `n` occurrences after `from`, as ISO strings. */
function next(c: CronExpression, from: string, n: number): (string | null)[] {
  const out: (string | null)[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    const v = c.nextAfter(t);
    out.push(iso(v));
    if (v === null) break;
    t = v;
  }
  return out;
}

describe("cron schedules in time zones", () => {
  it("every minute: the next occurrence is strictly after, the latest is at or before", () => {
    const c = cron("* * * * *");
    expect(iso(c.nextAfter(at("2026-03-09T14:00:00.000Z")))).toBe("2026-03-09T14:01:00.000Z");
    expect(iso(c.nextAfter(at("2026-03-09T14:00:30.000Z")))).toBe("2026-03-09T14:01:00.000Z");
    expect(iso(c.latestAtOrBefore(at("2026-03-09T14:00:00.000Z")))).toBe("2026-03-09T14:00:00.000Z");
    expect(iso(c.latestAtOrBefore(at("2026-03-09T14:00:59.999Z")))).toBe("2026-03-09T14:00:00.000Z");
  });

  it("09:00 on weekdays is 09:00 local time in Chicago, across the start of daylight saving", () => {
    // 2026-03-08 is the US switch to CDT: 09:00 is 15:00Z before it and 14:00Z after.
    const c = cron("0 9 * * 1-5", "America/Chicago");
    expect(next(c, "2026-03-05T16:00:00Z", 3)).toEqual(["2026-03-06T15:00:00.000Z", "2026-03-09T14:00:00.000Z", "2026-03-10T14:00:00.000Z"]);
  });

  it("the same expression fires at different instants in different zones", () => {
    const from = "2026-06-01T00:00:00Z";
    expect(iso(cron("30 6 * * *", "UTC").nextAfter(at(from)))).toBe("2026-06-01T06:30:00.000Z");
    expect(iso(cron("30 6 * * *", "Asia/Kolkata").nextAfter(at(from)))).toBe("2026-06-01T01:00:00.000Z");
    expect(iso(cron("30 6 * * *", "Europe/Berlin").nextAfter(at(from)))).toBe("2026-06-01T04:30:00.000Z");
    expect(iso(cron("30 6 * * *", "Pacific/Auckland").nextAfter(at(from)))).toBe("2026-06-01T18:30:00.000Z");
  });

  it("a time skipped by the spring-forward gap runs once, right after the gap", () => {
    // New York skips 02:00–03:00 on 2026-03-08: 02:30 that day runs at 03:00 EDT (07:00Z).
    expect(next(cron("30 2 * * *", "America/New_York"), "2026-03-07T12:00:00Z", 3)).toEqual([
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
      "2026-03-10T06:30:00.000Z",
    ]);
  });

  it("a fixed time repeated by the fall-back overlap runs once", () => {
    // New York repeats 01:00–02:00 on 2026-11-01: 01:30 runs once that day.
    const runs = next(cron("30 1 * * *", "America/New_York"), "2026-10-31T12:00:00Z", 3);
    expect(runs[0]).toBe("2026-11-01T05:30:00.000Z");
    expect(runs[1]).toBe("2026-11-02T06:30:00.000Z");
  });

  it("day-of-week 7 is Sunday, and restricting both days means both must match (Metronome, unlike UNIX cron)", () => {
    expect(iso(cron("0 0 * * 7").nextAfter(at("2026-03-04T00:00:00Z")))).toBe("2026-03-08T00:00:00.000Z");
    expect(iso(cron("0 0 * * 0").nextAfter(at("2026-03-04T00:00:00Z")))).toBe("2026-03-08T00:00:00.000Z");
    // Friday the 13th: the first after 2026-01-01 is in February.
    expect(iso(cron("0 0 13 * 5").nextAfter(at("2026-01-01T00:00:00Z")))).toBe("2026-02-13T00:00:00.000Z");
  });

  it("an optional sixth field is the year; a past year never fires", () => {
    expect(iso(cron("0 12 1 1 * 2030").nextAfter(at("2026-01-01T00:00:00Z")))).toBe("2030-01-01T12:00:00.000Z");
    expect(cron("0 12 1 1 * 2020").nextAfter(at("2026-01-01T00:00:00Z"))).toBeNull();
    expect(cron("0 12 1 1 * 2030").latestAtOrBefore(at("2026-01-01T00:00:00Z"))).toBeNull();
  });

  it("says which field of a bad expression is wrong", () => {
    const bad = (expr: string, timezone = "UTC") => {
      const r = parseCron(expr, timezone);
      if (r.ok) throw new Error(`expected '${expr}' to be refused`);
      return r;
    };
    expect(bad("61 * * * *")).toMatchObject({ field: "cron", message: expect.stringMatching(/minute: 61/) });
    expect(bad("* 24 * * *").message).toMatch(/hour/);
    expect(bad("* * * 13 *").message).toMatch(/month/);
    expect(bad("* * * *").message).toMatch(/has 4 field\(s\)/);
    expect(bad("0 0 * * * * *").message).toMatch(/has 7 field\(s\)/);
    expect(bad("@daily").message).toMatch(/has 1 field/);
    expect(bad("a * * * *").message).toMatch(/minute field/);
    expect(bad("* * * * *", "Mars/Olympus")).toMatchObject({ field: "timezone", message: expect.stringMatching(/not an IANA time zone/) });
  });
});
