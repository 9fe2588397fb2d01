import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Task sandboxes: one directory per task under `<work-dir>/sandboxes/`, the task's working
 * directory and the home of its `stdout` and `stderr` files (Mesos's sandbox). Sandboxes outlive
 * their tasks so their logs can be read later; removing old ones is left to a future GC.
 */

/** The directory of the work dir that holds every sandbox. */
export const SANDBOXES_DIR = "sandboxes";

/** Longest sandbox name kept verbatim; well under NAME_MAX (255) with room for the hash suffix. */
const MAX_PLAIN_NAME = 200;

/**
 * The directory name of a task's sandbox. A task id is any string up to 512 characters, so a
 * name that is not already a plain, short file name gets its unsafe characters replaced and a
 * hash of the full id appended: two ids that differ only in replaced characters still get
 * different sandboxes, and `.`/`..` can never come out.
 */
export function sandboxName(taskId: string): string {
  const safe = taskId.replace(/[^A-Za-z0-9._-]/g, "_");
  if (safe === taskId && safe.length <= MAX_PLAIN_NAME && !safe.startsWith(".")) return safe;
  const hash = createHash("sha256").update(taskId).digest("hex").slice(0, 16);
  return `${safe.slice(0, MAX_PLAIN_NAME).replace(/^\./, "_")}-${hash}`;
}

/** Absolute path of a task's sandbox. */
export function sandboxPath(workDir: string, taskId: string): string {
  return join(workDir, SANDBOXES_DIR, sandboxName(taskId));
}

/**
 * Creates `<work-dir>/sandboxes`. An agent running as root may run tasks as other users, who
 * must reach their own sandbox: the work dir then gets search permission for others (o+x: they
 * can enter it but not list it; the identity and database inside stay 0600), and the sandboxes
 * directory is 0711 so no task can list the others' sandboxes.
 */
export function prepareSandboxRoot(workDir: string): void {
  const root = join(workDir, SANDBOXES_DIR);
  mkdirSync(root, { recursive: true, mode: 0o711 });
  if (process.getuid?.() !== 0) return;
  chmodSync(root, 0o711);
  const mode = statSync(workDir).mode & 0o7777;
  if ((mode & 0o001) === 0) chmodSync(workDir, mode | 0o001);
}

/**
 * The first parent of the work dir that other users cannot search (no o+x), if any: tasks that
 * run as another user (every task without a `user`, under a root agent) then cannot reach
 * their sandbox by its path, `MESOS_SANDBOX`. The agent does not widen such a directory itself
 * (it may be a home directory); it says so at start.
 */
export function unreachableParent(workDir: string): string | undefined {
  for (let dir = dirname(workDir); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return dir;
    if (dir === dirname(dir)) return undefined;
  }
}
