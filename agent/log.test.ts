import { expect, test } from "bun:test";
import { createLogger } from "./log.ts";

test("one JSON line per event with ts, level and event first", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line), now: () => new Date("2026-01-02T03:04:05.000Z") });
  log.info("connecting", { url: "ws://x" });
  log.error("shutdown");
  expect(lines).toEqual([
    '{"ts":"2026-01-02T03:04:05.000Z","level":"info","event":"connecting","url":"ws://x"}\n',
    '{"ts":"2026-01-02T03:04:05.000Z","level":"error","event":"shutdown"}\n',
  ]);
});

test("fields cannot overwrite the envelope, and secret-looking fields are blanked", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  log.warn("registered", { event: "forged", level: "info", token: "join_s3cret", credential: "c", authorization: "Bearer x" });
  const record = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
  expect(record.event).toBe("registered");
  expect(record.level).toBe("warn");
  expect(record.token).toBe("[redacted]");
  expect(lines[0]).not.toContain("s3cret");
  expect(lines[0]).not.toContain("Bearer");
});
