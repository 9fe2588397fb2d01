import { closeSync, openSync, readSync, renameSync, statSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../log.ts";
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

/** Rotates `path` to `path.1` if it holds more than `capBytes`; returns whether it did. */
export function capLog(path: string, capBytes: number): boolean {
  const size = fileSize(path);
  if (size <= capBytes) return false;
  const temp = `${path}.1.tmp`;
  copyRange(path, temp, size - capBytes, capBytes);
  // The rename makes the new `.1` appear whole: a reader never sees a half-copied one.
  renameSync(temp, `${path}.1`);
  truncateSync(path, 0);
  return true;
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
 * when there is one, and trailing blank space is dropped.
 */
export function readTail(sandbox: string, stream: string, maxBytes: number): string {
  const current = join(sandbox, stream);
  let bytes = readLast(current, maxBytes);
  let cut = fileSize(current) > bytes.length;
  if (bytes.length < maxBytes) {
    const previous = readLast(`${current}.1`, maxBytes - bytes.length);
    cut = cut || fileSize(`${current}.1`) > previous.length;
    bytes = Buffer.concat([previous, bytes]);
  }
  let text = new TextDecoder().decode(bytes);
  const firstBreak = text.indexOf("\n");
  if (cut && firstBreak !== -1 && firstBreak < text.length - 1) text = text.slice(firstBreak + 1);
  return text.trimEnd();
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The last `maxBytes` of a file; empty when it does not exist. */
function readLast(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fileSize(path);
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, size - length);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Copies `length` bytes from `offset` of `from` into a new file `to`, a chunk at a time. */
function copyRange(from: string, to: string, offset: number, length: number): void {
  const input = openSync(from, "r");
  try {
    const output = openSync(to, "w", 0o640);
    try {
      const buffer = Buffer.alloc(Math.min(COPY_CHUNK_BYTES, length));
      let done = 0;
      while (done < length) {
        const read = readSync(input, buffer, 0, Math.min(buffer.length, length - done), offset + done);
        if (read === 0) break;
        writeSync(output, buffer, 0, read);
        done += read;
      }
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}
