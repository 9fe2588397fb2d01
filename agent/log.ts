/**
 * Structured logging: one JSON object per line on stdout, so the agent's output can be shipped
 * to any log pipeline (journald, Docker, a file) and filtered by `event` without parsing prose.
 */

export type LogLevel = "info" | "warn" | "error";

/** A field value that survives JSON.stringify unchanged. */
export type LogValue = string | number | boolean | null | undefined | readonly LogValue[] | { readonly [key: string]: LogValue };
export type LogFields = Readonly<Record<string, LogValue>>;

/** Emits one event; `event` is a stable snake_case name that tests and operators match on. */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /** Where a finished line goes; defaults to stdout. */
  write?: (line: string) => void;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
}

/**
 * Secrets must never reach a log. Callers never pass them, and this backstop blanks any field
 * whose name says it holds one, in case a future caller forgets.
 */
const SECRET_FIELD = /token|credential|authorization|password|secret/i;

/** Creates a logger writing JSON lines `{"ts","level","event",...fields}`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, event: string, fields: LogFields = {}): void => {
    const record: Record<string, LogValue> = { ts: now().toISOString(), level, event };
    for (const [key, value] of Object.entries(fields)) {
      // ts/level/event are the envelope; a field must not overwrite them.
      if (key in record) continue;
      record[key] = SECRET_FIELD.test(key) ? "[redacted]" : value;
    }
    write(JSON.stringify(record) + "\n");
  };
  return {
    info: (event, fields) => emit("info", event, fields),
    warn: (event, fields) => emit("warn", event, fields),
    error: (event, fields) => emit("error", event, fields),
  };
}

/** Renders an unknown thrown value as a message fit for a log field. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A logger that emits every event to each of `loggers`, in order. */
export function teeLogger(...loggers: Logger[]): Logger {
  return {
    info: (event, fields) => loggers.forEach((log) => log.info(event, fields)),
    warn: (event, fields) => loggers.forEach((log) => log.warn(event, fields)),
    error: (event, fields) => loggers.forEach((log) => log.error(event, fields)),
  };
}
