import { createLogger } from "../log.ts";
import type { Logger } from "../log.ts";

/** One parsed log line. */
export type LogRecord = Record<string, unknown> & { ts: string; level: string; event: string };

/** A logger that keeps its lines in memory, for tests to assert on. */
export interface CollectedLog {
  log: Logger;
  /** Raw JSON lines, as they would have reached stdout. */
  lines: string[];
  records(): LogRecord[];
  events(event: string): LogRecord[];
}

export function collectLog(): CollectedLog {
  const lines: string[] = [];
  const records = (): LogRecord[] => lines.map((line) => JSON.parse(line) as LogRecord);
  return {
    log: createLogger({ write: (line) => lines.push(line) }),
    lines,
    records,
    events: (event) => records().filter((record) => record.event === event),
  };
}
