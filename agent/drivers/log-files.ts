import { closeSync, fchownSync, ftruncateSync, readSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { readTail as readStreamTail } from "../log-reader.ts";
import { errorMessage } from "../log.ts";
import { UnsafeSandboxFile, createSandboxFile, openSandboxFile, removeSandboxEntry, withSandboxFile } from "../sandbox-files.ts";
import type { Logger } from "../log.ts";

/**
 * A task's `stdout` and `stderr` files in its sandbox, and how they are kept small.
 *
 * The task writes straight into the files (opened O_APPEND and inherited), never through a pipe
 * to the agent: a pipe would break, and SIGPIPE the task, the moment the agent restarts. So the
 * agent caps the files from outside, "copytruncate" style: when a file passes the cap, its last
 * `cap` bytes are copied to `<name>.1` (replacing the previous one) and the file is truncated to
 * zero; thanks to O_APPEND the task's next write lands at the new end. Together the two files
 * always hold at least the last `cap` bytes of the stream (between cap and 2·cap in all).
 *
 * What must stay true: the agent checks while the task runs, once more when it ends, and for
 * recovered tasks too; between checks (and while the agent is down) a file may pass the cap. A
 * few bytes written between the copy and the truncation are lost, as with logrotate's copytruncate.
 */

/** The names of the streams' files in the sandbox, as in Mesos. */
export const STDOUT_FILE = "stdout";
export const STDERR_FILE = "stderr";
/** Default cap per stream. */
export const DEFAULT_LOG_CAP_BYTES = 10 * 1024 * 1024;
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * Rotates `path` to `path.1` if it holds more than `capBytes`; returns whether it did. The task
 * controls the sandbox, so every step goes through a checked descriptor or a fresh exclusive file
 * (sandbox-files.ts): a link planted at `path`, `path.1.tmp` or `path.1` is never followed.
 */
export function capLog(path: string, capBytes: number): boolean {
  const rotated = withSandboxFile(path, "update", (fd, stats) => {
    if (stats.size <= capBytes) return false;
    const temp = `${path}.1.tmp`;
    const output = createSandboxFile(temp);
    try {
      // The rotated file belongs to whoever owns the stream, so a task can read its own old output.
      if (process.getuid?.() === 0) fchownSync(output, stats.uid, stats.gid);
      copyRange(fd, output, stats.size - capBytes, capBytes);
    } finally {
      closeSync(output);
    }
    // The rename makes the new `.1` appear whole: a reader never sees a half-copied one. It moves
    // a directory entry and replaces one: whatever the task put at either name, nothing is followed.
    renameSync(temp, `${path}.1`);
    ftruncateSync(fd, 0);
    return true;
  });
  return rotated ?? false;
}

/**
 * Opens a stream's file in the sandbox for the docker driver's log copy, through a checked
 * descriptor: the container writes into the sandbox as root while the copy runs, so a link it plants there is
 * refused, never followed. `fresh` empties the file (and drops its rotated `.1`) so a recovered
 * task's output is rewritten from the start of Docker's log.
 */
export function openLogSink(path: string, fresh: boolean): number {
  if (fresh) removeSandboxEntry(`${path}.1`);
  const fd = openSandboxFile(path, "append");
  if (fd === undefined) throw new Error(`${path} could not be created`);
  if (fresh) ftruncateSync(fd, 0);
  return fd;
}

/** Caps both streams of a sandbox. */
export function capSandboxLogs(sandbox: string, capBytes: number): void {
  for (const stream of [STDOUT_FILE, STDERR_FILE]) capLog(join(sandbox, stream), capBytes);
}

/**
 * Caps a task's logs, as every driver does while its tasks run and once more when one ends; a
 * failure (a full disk, a sandbox removed underneath) is logged, never thrown into the task's
 * own bookkeeping.
 */
export function capTaskLogs(task: { taskId: string; sandbox: string }, capBytes: number, log: Logger): void {
  try {
    capSandboxLogs(task.sandbox, capBytes);
  } catch (error) {
    log.warn("task_log_cap_failed", { taskId: task.taskId, error: errorMessage(error) });
  }
}

/**
 * The last lines of a stream, at most `maxBytes`, reading into `<stream>.1` when the current
 * file holds less (it may have just been rotated). A tail cut short starts at a line boundary
 * when there is one, and trailing blank space is dropped (log-reader.ts reads it, as it does for
 * the master's log requests).
 */
export function readTail(sandbox: string, stream: string, maxBytes: number): string {
  try {
    return new TextDecoder().decode(readStreamTail(join(sandbox, stream), undefined, maxBytes).bytes).trimEnd();
  } catch (error) {
    // A stream the task replaced by a link (or worse) has no tail to give; say why instead.
    if (error instanceof UnsafeSandboxFile) return error.message;
    throw error;
  }
}

/** Copies `length` bytes from `offset` of one open file to the end of another, a chunk at a time. */
function copyRange(input: number, output: number, offset: number, length: number): void {
  const buffer = Buffer.alloc(Math.min(COPY_CHUNK_BYTES, length));
  let done = 0;
  while (done < length) {
    const read = readSync(input, buffer, 0, Math.min(buffer.length, length - done), offset + done);
    if (read === 0) break;
    writeSync(output, buffer, 0, read);
    done += read;
  }
}
