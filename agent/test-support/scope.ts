import { afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { GroupReaper, dropAgentCgroups } from "./tasks.ts";

/**
 * What a test file starts and must stop: cleanups run after each test in reverse order, task
 * process groups are reaped, temp dirs removed. Call once at the top of a test file.
 */
export function testScope(prefix: string) {
  const reaper = new GroupReaper();
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    reaper.reap();
  });
  return {
    reaper,
    /** Runs `fn` after the current test. */
    defer(fn: () => Promise<void> | void): void {
      cleanups.push(fn);
    },
    /** A fresh temp dir, removed after the test with the cgroups of an agent that used it as its work dir. */
    tempDir(): string {
      const dir = mkdtempSync(join(os.tmpdir(), `${prefix}-`));
      cleanups.push(() => {
        dropAgentCgroups(dir);
        rmSync(dir, { recursive: true, force: true });
      });
      return dir;
    },
  };
}
