import { z } from "zod";

/**
 * Task log frames: the master asks an agent for a task's output (`logs`), the agent answers
 * with one or more `logData` frames for that `requestId`, the last one carrying `eof`. A follow
 * request stays open, sending new output as it appears, until the task ends, the master sends
 * `logsCancel`, the session ends or the agent's own limit on a follow runs out.
 *
 * Every frame costs the master about a millisecond of dispatch (see TOOLCHAIN.md), so agents
 * send large chunks and coalesce a follow's output over a poll interval instead of a frame per
 * line.
 */

/** The two output streams of a task, as files of its sandbox. */
export const LogStreamName = z.enum(["stdout", "stderr"]);
export type LogStreamName = z.infer<typeof LogStreamName>;

/** Most lines a `tail` may ask for. */
export const MAX_LOG_TAIL_LINES = 10_000;
/** Most output one request returns before following: the last this many bytes at most. */
export const MAX_LOG_BYTES = 1024 * 1024;
/** Most UTF-8 bytes of output in one `logData` frame. */
export const MAX_LOG_FRAME_BYTES = 64 * 1024;
/** A follow ends after this long, whatever else happens (the client may reconnect with an offset). */
export const MAX_LOG_FOLLOW_MS = 3600_000;

const RequestId = z.string().min(1).max(128);

/**
 * master → agent. `tail`: the last N lines (all that fits in MAX_LOG_BYTES when absent);
 * `offset`: instead of a tail, the output from this byte of the stream's current file (an
 * `offset` a `logData` frame returned); `follow`: keep sending new output.
 */
export const Logs = z.strictObject({
  type: z.literal("logs"),
  requestId: RequestId,
  taskId: z.string().min(1).max(512),
  stream: LogStreamName,
  tail: z.number().int().min(0).max(MAX_LOG_TAIL_LINES).optional(),
  follow: z.boolean().optional(),
  offset: z.number().int().nonnegative().optional(),
});
export type Logs = z.infer<typeof Logs>;

/** master → agent: the master no longer wants a request's output (its client left). */
export const LogsCancel = z.strictObject({ type: z.literal("logsCancel"), requestId: RequestId });
export type LogsCancel = z.infer<typeof LogsCancel>;

/**
 * Why a request failed on the agent: `not_found` (no such task or sandbox on this agent),
 * `unavailable` (the agent is at its limit of follows), `failed` (reading the files failed).
 */
export const LogErrorCode = z.enum(["not_found", "unavailable", "failed"]);
export type LogErrorCode = z.infer<typeof LogErrorCode>;

/**
 * agent → master: a chunk of output. `offset` is the byte position in the stream's current
 * file that the output up to and including this chunk reaches (0 for output that comes from
 * the rotated `.1` file); sent back as `offset`, it continues after this chunk. The agent
 * always answers a request at once, with an empty chunk when there is no output yet.
 */
export const LogData = z.strictObject({
  type: z.literal("logData"),
  requestId: RequestId,
  data: z.string().max(MAX_LOG_FRAME_BYTES),
  offset: z.number().int().nonnegative(),
  /** The last frame of the request. */
  eof: z.boolean().optional(),
  /** Set on a request that failed (then also `eof`). */
  error: z.strictObject({ code: LogErrorCode, message: z.string().max(4096) }).optional(),
});
export type LogData = z.infer<typeof LogData>;
