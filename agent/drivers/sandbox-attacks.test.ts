import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { collectLog } from "../test-support/log-collector.ts";
import { GroupReaper, dropCgroup, fileText, launchOf } from "../test-support/tasks.ts";
import { readFrom, readTail as readLogTail } from "../log-reader.ts";
import { UnsafeSandboxFile } from "../sandbox-files.ts";
import { ExecDriver } from "./exec.ts";
import { EXIT_STATUS_FILE, recordedStatus } from "./exec-wrapper.ts";
import { capLog, openLogSink, readTail } from "./log-files.ts";

/**
 * A task controls its sandbox, and the agent runs as root: each test here plants, from inside a
 * real task where it can, what a hostile task would (a symbolic link to a host file, a hard link,
 * a FIFO) where the agent opens, moves or removes a file on the task's behalf, and checks that the
 * host file is neither written, truncated nor read, and that the agent never blocks.
 *
 * The host file is root's, 0600, in a 0700 directory: as root the attacking task runs as
 * `nobody`, who could not touch it by itself, so only the agent could leak or damage it.
 */

const reaper = new GroupReaper();
const cleanups: (() => Promise<void> | void)[] = [];
const asRoot = process.getuid?.() === 0;
const SECRET = "root-only secret line\n".repeat(400);

afterEach(async () => {
  reaper.reap();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A host file the task must never reach: root's, 0600, in a 0700 directory. */
function hostFile(): string {
  const path = join(tempDir("dcx-host-"), "authorized_keys");
  writeFileSync(path, SECRET, { mode: 0o600 });
  return path;
}

function driver(logCapBytes: number): ExecDriver {
  const exec = new ExecDriver({ log: collectLog().log, logCheckMs: 20, pollMs: 20, logCapBytes });
  cleanups.push(() => exec.close());
  return exec;
}

/** Starts a hostile shell task, as `nobody` when the agent is root. */
async function hostile(exec: ExecDriver, shell: string) {
  const dir = join(tempDir("dcx-attack-"), "sandbox");
  const task = await exec.start(launchOf(`attack-${Math.random().toString(36).slice(2)}`, { shell }, asRoot ? { user: "nobody" } : {}), dir);
  reaper.add(task.pgid);
  cleanups.push(() => dropCgroup(exec, task));
  return { task, dir };
}

function expectUntouched(path: string): void {
  expect(lstatSync(path).isFile()).toBe(true);
  expect(readFileSync(path, "utf8")).toBe(SECRET);
}

/** Everything the sandbox holds, as text, to show that no secret was copied into it. */
function sandboxText(dir: string): string {
  return ["stdout", "stdout.1", "stderr", "stderr.1"]
    .map((name) => join(dir, name))
    .filter((path) => existsSync(path) && lstatSync(path).isFile())
    .map((path) => readFileSync(path, "utf8"))
    .join("");
}

describe("a task cannot turn the log cap against its host", () => {
  test("stdout.1.tmp planted as a link: the rotation writes a fresh file, never through the link", async () => {
    const victim = hostFile();
    const exec = driver(1024);
    const { task, dir } = await hostile(exec, `ln -s ${victim} stdout.1.tmp; echo planted > planted; sleep 0.3; seq 1 5000; sleep 0.3`);
    await exec.wait(task);
    expectUntouched(victim);
    // The rotation still happened, into a regular file holding the stream's end.
    expect(lstatSync(join(dir, "stdout.1")).isFile()).toBe(true);
    expect(readFileSync(join(dir, "stdout.1"), "utf8") + readFileSync(join(dir, "stdout"), "utf8")).toEndWith("4999\n5000\n");
  });

  test("stdout.1 planted as a link: the rename replaces the link, the host file is not written", async () => {
    const victim = hostFile();
    const exec = driver(1024);
    const { task, dir } = await hostile(exec, `ln -s ${victim} stdout.1; sleep 0.3; seq 1 5000; sleep 0.3`);
    await exec.wait(task);
    expectUntouched(victim);
    expect(lstatSync(join(dir, "stdout.1")).isFile()).toBe(true);
  });

  test("stdout replaced by a link to a host file: neither truncated nor copied into the sandbox", async () => {
    const victim = hostFile();
    const exec = driver(1024);
    // The task's own stdout stays open; the name now points at the host file, which is over the cap.
    const { task, dir } = await hostile(exec, `rm stdout; ln -s ${victim} stdout; echo planted > planted; sleep 0.5`);
    await fileText(dir, "planted");
    await exec.wait(task);
    expectUntouched(victim);
    expect(sandboxText(dir)).not.toContain("root-only secret");
  });

  test("stdout replaced by a hard link to a host file: refused (two links)", async () => {
    if (!asRoot) return console.warn("SKIPPED: planting a hard link to root's file needs the test to run as root");
    const victim = hostFile();
    const sandbox = tempDir("dcx-hard-");
    linkSync(victim, join(sandbox, "stdout"));
    expect(() => capLog(join(sandbox, "stdout"), 1024)).toThrow(UnsafeSandboxFile);
    expectUntouched(victim);
    expect(existsSync(join(sandbox, "stdout.1"))).toBe(false);
  });

  test("stdout replaced by a FIFO: the cap does not block on it", async () => {
    const exec = driver(1024);
    const { task, dir } = await hostile(exec, "rm stdout; mkfifo stdout; echo planted > planted; sleep 0.3");
    await fileText(dir, "planted");
    // The driver caps every 20 ms; it would hang forever on the open if it followed into the FIFO.
    expect(await exec.wait(task)).toMatchObject({ kind: "exited", code: 0 });
    expect(() => capLog(join(dir, "stdout"), 0)).toThrow("it is a FIFO");
  });
});

describe("a task cannot read host files through the agent", () => {
  test("stderr replaced by a link: the stderr tail reported with the exit says so, without the file", async () => {
    const victim = hostFile();
    const exec = driver(1024 * 1024);
    const { task } = await hostile(exec, `rm stderr; ln -s ${victim} stderr; exit 3`);
    const status = await exec.wait(task);
    expect(status).toMatchObject({ kind: "exited", code: 3 });
    expect(status.stderrTail).not.toContain("root-only secret");
    expect(status.stderrTail).toContain("it is a symbolic link");
  });

  test("the log reader refuses a stream replaced by a link, for tails and follows alike", async () => {
    const victim = hostFile();
    const exec = driver(1024 * 1024);
    const { task, dir } = await hostile(exec, `rm stdout stdout.1 2>/dev/null; ln -s ${victim} stdout; ln -s ${victim} stdout.1; exit 0`);
    await exec.wait(task);
    expect(() => readLogTail(join(dir, "stdout"), 10, 64 * 1024)).toThrow(UnsafeSandboxFile);
    expect(() => readFrom(join(dir, "stdout"), 0, 64 * 1024)).toThrow("it is a symbolic link");
  });

  test("the log reader refuses a FIFO and a hard link without blocking", () => {
    const sandbox = tempDir("dcx-read-");
    Bun.spawnSync(["mkfifo", join(sandbox, "stdout")]);
    expect(() => readFrom(join(sandbox, "stdout"), 0, 1024)).toThrow("it is a FIFO");
    if (!asRoot) return;
    const victim = hostFile();
    linkSync(victim, join(sandbox, "stderr"));
    expect(() => readLogTail(join(sandbox, "stderr"), undefined, 1024)).toThrow("hard links");
    expect(readTail(sandbox, "stderr", 1024)).not.toContain("root-only secret");
  });

  test("the exit status file replaced by a FIFO or a link reads as no status, without blocking", () => {
    const fifo = tempDir("dcx-status-");
    Bun.spawnSync(["mkfifo", join(fifo, EXIT_STATUS_FILE)]);
    const fallback = { kind: "exited" as const, code: -1, stderrTail: "" };
    expect(recordedStatus(fifo, "", () => fallback)).toEqual(fallback);
    const link = tempDir("dcx-status-");
    const target = join(tempDir("dcx-host-"), "status");
    writeFileSync(target, "0\n");
    symlinkSync(target, join(link, EXIT_STATUS_FILE));
    expect(recordedStatus(link, "", () => fallback)).toEqual(fallback);
  });
});

describe("the docker driver's log copy", () => {
  test("opening a stream's file for the copy refuses a link the container planted, and never truncates its target", () => {
    const victim = hostFile();
    const sandbox = tempDir("dcx-docker-");
    symlinkSync(victim, join(sandbox, "stdout"));
    expect(() => openLogSink(join(sandbox, "stdout"), true)).toThrow("it is a symbolic link");
    expectUntouched(victim);
  });

  test("a fresh copy empties the stream and drops a planted stdout.1 link without following it", () => {
    const victim = hostFile();
    const sandbox = tempDir("dcx-docker-");
    mkdirSync(sandbox, { recursive: true });
    writeFileSync(join(sandbox, "stdout"), "old output\n");
    symlinkSync(victim, join(sandbox, "stdout.1"));
    closeSync(openLogSink(join(sandbox, "stdout"), true));
    expect(statSync(join(sandbox, "stdout")).size).toBe(0);
    expect(existsSync(join(sandbox, "stdout.1"))).toBe(false);
    expectUntouched(victim);
  });
});
