import { Cron } from "croner";

/**
 * Metronome's cron dialect on top of croner: five fields (minute, hour, day-of-month, month,
 * day-of-week 0–7 with 0 and 7 both Sunday) and an optional sixth, the year; when both days are
 * restricted a time must match both (cron-utils' `matchDayOfWeekAndDayOfMonth`, unlike UNIX
 * cron's either). Times are evaluated in an IANA time zone, through Intl, so daylight saving
 * moves the UTC instants as it moves the wall clock.
 */

/** A parsed schedule: the occurrences of its cron expression in its time zone. */
export interface CronExpression {
  /** The first occurrence strictly after `ms`, or null when there is none (a past year). */
  nextAfter(ms: number): number | null;
  /** The latest occurrence at or before `ms`, or null when there is none. */
  latestAtOrBefore(ms: number): number | null;
}

export type CronParseResult = { ok: true; cron: CronExpression } | { ok: false; field: "cron" | "timezone"; message: string };

/** croner's field names by position in its 7-part pattern, which puts seconds first. */
const FIELD_NAMES = ["second", "minute", "hour", "day-of-month", "month", "day-of-week", "year"];

/** Whether `zone` names an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Parses `expr` for `timezone`; never throws: a bad expression says which field and why. */
export function parseCron(expr: string, timezone: string): CronParseResult {
  if (!isTimeZone(timezone)) return { ok: false, field: "timezone", message: `'${timezone}' is not an IANA time zone (e.g. 'UTC', 'Europe/Berlin')` };
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return {
      ok: false,
      field: "cron",
      message: `'${expr}' has ${fields.length} field(s): give 5 (minute hour day-of-month month day-of-week) and optionally a year`,
    };
  }
  // croner's 7-part form has seconds first and the year last; seconds are always 0 here.
  const pattern = fields.length === 5 ? `0 ${fields.join(" ")} *` : `0 ${fields.join(" ")}`;
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone, mode: "7-part", domAndDow: true });
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err))
      .replace(/^CronPattern:\s*/, "")
      .replace(/configuration entry (\d)/, (_, i: string) => `the ${FIELD_NAMES[Number(i)] ?? "field"} field`);
    return { ok: false, field: "cron", message: `'${expr}' is not a valid cron expression: ${reason}` };
  }
  return {
    ok: true,
    cron: {
      nextAfter: (ms) => cron.nextRun(new Date(ms))?.getTime() ?? null,
      // previousRuns looks strictly before its reference; one millisecond later includes `ms` itself.
      latestAtOrBefore: (ms) => cron.previousRuns(1, new Date(ms + 1))[0]?.getTime() ?? null,
    },
  };
}
