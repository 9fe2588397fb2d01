import { readSync } from "node:fs";
import { join } from "node:path";
import { withSandboxFile } from "./sandbox-files.ts";

/**
 * Reading a task's output for the master's log requests, from the sandbox files the drivers
 * write (`stdout`, `stderr`, each with its rotated `.1`; see drivers/log-files.ts for how they
 * are capped). Positions are byte offsets in a stream's current file; output that only
 * survives in `.1` has position 0, since the current file has not reached it yet.
 *
 * Nothing here holds a file open between calls: a follower re-opens the file on every poll, so
 * a file replaced meanwhile (a docker task recovered after an agent restart rewrites its logs)
 * is noticed by its inode.
 */

/** One read: the bytes, and the current-file position that the output up to `bytes[i]` reaches. */
export interface LogRead {
  bytes: Buffer;
  /** The position reached once the bytes before index `end` are delivered. */
  positionAt(end: number): number;
  /** Where the next read continues: the end of what was read, in the current file. */
  position: number;
  /** The current file's inode (0 when it does not exist), to notice it being replaced. */
  ino: number;
}

const NEWLINE = 0x0a;

/** The path of a stream's current file in a sandbox. */
export function streamPath(sandbox: string, stream: string): string {
  return join(sandbox, stream);
}

/**
 * The end of a stream: its last `lines` lines (every line when undefined), within the last
 * `maxBytes` of output, reading into `.1` when the current file holds less. A window cut short
 * starts at its first line break, so no partial line comes first.
 */
export function readTail(path: string, lines: number | undefined, maxBytes: number): LogRead {
  const current = readRange(path, -maxBytes, maxBytes);
  const reachedStart = current.start === 0;
  const previous = reachedStart && current.bytes.length < maxBytes ? readRange(`${path}.1`, -(maxBytes - current.bytes.length), maxBytes) : undefined;
  const all = previous === undefined ? current.bytes : Buffer.concat([previous.bytes, current.bytes]);
  const prevLength = previous?.bytes.length ?? 0;
  // Output older than the window exists: in the current file before it, or in `.1` before what was read.
  const cut = !reachedStart || (previous !== undefined && previous.start > 0);
  let from = lines === undefined ? -1 : startOfLastLines(all, lines);
  if (from === -1) from = cut ? afterFirstBreak(all) : 0;
  // A character still being written is left for the next read (a follow continues at `position`).
  const held = all.length - completeLength(all);
  return {
    bytes: all.subarray(Math.min(from, all.length - held), all.length - held),
    positionAt: (end) => (from + end <= prevLength ? 0 : current.start + from + end - prevLength),
    position: current.start + Math.max(0, current.bytes.length - held),
    ino: current.ino,
  };
}

/**
 * The output of the current file from `position`, at most `maxBytes`, ending on a whole UTF-8
 * character (the rest of a character still being written comes with the next read). A file
 * now shorter than `position`, or another file than the inode `ino` (when given), was rotated
 * or replaced: reading starts over at its beginning.
 */
export function readFrom(path: string, position: number, maxBytes: number, ino?: number): LogRead {
  const read = readRange(
    path,
    (size, fileIno) => {
      const restart = size < position || (ino !== undefined && ino !== 0 && fileIno !== ino);
      return restart ? 0 : position;
    },
    maxBytes,
  );
  const whole = read.bytes.subarray(0, completeLength(read.bytes));
  return { bytes: whole, positionAt: (end) => read.start + end, position: read.start + whole.length, ino: read.ino };
}

/**
 * Splits output into frames of at most `maxBytes` each, never inside a UTF-8 character.
 * Returns the end index of each frame.
 */
export function frameEnds(bytes: Buffer, maxBytes: number): number[] {
  const ends: number[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + maxBytes);
    if (end < bytes.length) {
      // Back up to the first byte of the character the limit falls in (continuation bytes are 10xxxxxx).
      let lead = end;
      while (lead > start && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead--;
      if (lead > start) end = lead;
    }
    ends.push(end);
    start = end;
  }
  return ends;
}

/** The length of `bytes` without a UTF-8 character cut off at its end. */
export function completeLength(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 4; i--) {
    const b = bytes[i] ?? 0;
    if ((b & 0xc0) === 0x80) continue;
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + size > bytes.length ? i : bytes.length;
  }
  return bytes.length;
}

/**
 * Where the last `lines` lines start (a final line break ends the last line rather than
 * starting an empty one), or -1 when `bytes` holds fewer line breaks than that.
 */
function startOfLastLines(bytes: Buffer, lines: number): number {
  if (lines === 0) return bytes.length;
  let at = bytes.length - 1;
  if (bytes[at] === NEWLINE) at--;
  for (let found = 0; found < lines; found++) {
    const lf = at < 0 ? -1 : bytes.lastIndexOf(NEWLINE, at);
    if (lf === -1) return -1;
    if (found === lines - 1) return lf + 1;
    at = lf - 1;
  }
  return -1;
}

function afterFirstBreak(bytes: Buffer): number {
  const lf = bytes.indexOf(NEWLINE);
  return lf === -1 || lf === bytes.length - 1 ? 0 : lf + 1;
}

/**
 * Reads up to `maxBytes` of a file from the offset `from` picks for its size and inode (the end
 * when negative), sizing it from the same open file so that the range and the inode describe one
 * file. A missing file reads empty. The file is opened as any sandbox file (sandbox-files.ts): a
 * link, FIFO or device the task put in the stream's place is refused, never read through.
 */
function readRange(path: string, from: number | ((size: number, ino: number) => number), maxBytes: number): { bytes: Buffer; start: number; ino: number } {
  const read = withSandboxFile(path, "read", (fd, { size, ino }) => {
    const wanted = typeof from === "function" ? from(size, ino) : from;
    const start = wanted < 0 ? Math.max(0, size + wanted) : Math.min(wanted, size);
    const length = Math.min(size - start, maxBytes);
    const buffer = Buffer.alloc(length);
    const got = length === 0 ? 0 : readSync(fd, buffer, 0, length, start);
    return { bytes: buffer.subarray(0, got), start, ino };
  });
  return read ?? { bytes: Buffer.alloc(0), start: 0, ino: 0 };
}
