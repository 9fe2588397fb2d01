import { closeSync, constants, fstatSync, lstatSync, openSync, unlinkSync } from "node:fs";
import type { Stats } from "node:fs";

/**
 * Opening files in a task's sandbox, which the task controls.
 *
 * The agent runs as root and the sandbox directory belongs to the task (exec tasks own it; a
 * container's root writes into it through its bind mount). Between two of the agent's steps the
 * task may replace any entry in it by a symbolic link to a host file, a hard link to one, a FIFO
 * that blocks an open forever, or a device node. So every file the agent opens there on a task's
 * behalf goes through `openSandboxFile`:
 *
 * - the last path component is never followed (`O_NOFOLLOW`); the directories above it belong to
 *   the agent (`<work-dir>/sandboxes/` is root's, 0711), so no other component can be a link the
 *   task planted;
 * - the entry is checked to be a regular file before the open (`lstat`), so no device or FIFO is
 *   ever opened, and the open is non-blocking all the same in case one is swapped in meanwhile;
 * - the opened file is checked again (`fstat`): a regular file with a single link (a hard link
 *   to a host file has two), and the same inode the `lstat` saw (else it was swapped mid-open).
 *
 * Truncation and size go through the checked descriptor (`ftruncate`, `fstat`), never the path;
 * removals use `unlink`, which removes a link itself and never its target; a file the agent
 * creates is created exclusively, so a link planted in its place makes the create fail instead of
 * redirecting the write.
 */

/** A sandbox entry the agent refuses to open: what it is, and why that is refused. */
export class UnsafeSandboxFile extends Error {
  constructor(path: string, problem: string) {
    super(`refused to open ${path}: ${problem} (the task controls its sandbox, and the agent never opens such a file for it)`);
    this.name = "UnsafeSandboxFile";
  }
}

/** How a sandbox file is opened: read it, read and truncate it, or append to it (creating it). */
export type SandboxOpen = "read" | "update" | "append";

// O_NOCTTY: a terminal device swapped in must never become the agent's controlling terminal.
const GUARD = constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
const FLAGS: Record<SandboxOpen, number> = {
  read: constants.O_RDONLY | GUARD,
  update: constants.O_RDWR | GUARD,
  append: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | GUARD,
};

/**
 * Opens a file in a sandbox without following links; returns its descriptor, or undefined when
 * it does not exist (for `read` and `update`; `append` creates it with `mode`). Throws
 * `UnsafeSandboxFile` when the entry is a link, not a regular file, or was swapped while opening.
 */
export function openSandboxFile(path: string, how: SandboxOpen, mode = 0o640): number | undefined {
  const before = lstatOrNull(path);
  if (before === null && how !== "append") return undefined;
  if (before !== null) refuseUnlessPlainFile(path, before);
  let fd: number;
  try {
    fd = openSync(path, FLAGS[how], mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && how !== "append") return undefined;
    if (code === "ELOOP") throw new UnsafeSandboxFile(path, "it is a symbolic link");
    if (code === "ENXIO") throw new UnsafeSandboxFile(path, "it is a FIFO or socket");
    throw error;
  }
  try {
    const after = fstatSync(fd);
    refuseUnlessPlainFile(path, after);
    if (before !== null && (before.ino !== after.ino || before.dev !== after.dev)) throw new UnsafeSandboxFile(path, "it was replaced while being opened");
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * Creates a new file in a sandbox for the agent to write, replacing whatever entry had the name
 * (a planted link is removed, not followed). Throws when the task races another entry in between.
 */
export function createSandboxFile(path: string, mode = 0o640): number {
  removeSandboxEntry(path);
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | GUARD, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new UnsafeSandboxFile(path, "another entry appeared in its place while it was being created");
    throw error;
  }
}

/** Removes a sandbox entry if it is there; a link is removed itself, never what it points to. */
export function removeSandboxEntry(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Runs `use` on a sandbox file opened with `openSandboxFile`, closing it after; undefined when missing. */
export function withSandboxFile<T>(path: string, how: SandboxOpen, use: (fd: number, stats: Stats) => T): T | undefined {
  const fd = openSandboxFile(path, how);
  if (fd === undefined) return undefined;
  try {
    return use(fd, fstatSync(fd));
  } finally {
    closeSync(fd);
  }
}

function refuseUnlessPlainFile(path: string, stats: Stats): void {
  if (!stats.isFile()) throw new UnsafeSandboxFile(path, `it is ${kindOf(stats)}, not a regular file`);
  if (stats.nlink !== 1) throw new UnsafeSandboxFile(path, `it has ${stats.nlink} hard links (a link to a file outside the sandbox)`);
}

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return "a symbolic link";
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return "a device";
  return "not a regular file";
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
