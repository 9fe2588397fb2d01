import { spawnSync } from "node:child_process";
import { waitFor } from "../../scripts/lib/processes.ts";

const inCi = process.env.CI === "true";

/**
 * Something a test needs from the machine (a tool, dockerd, root). Present: the test runs.
 * Missing: under CI=true the test runs and fails naming what is missing and how to get it;
 * elsewhere it is skipped, with a warning on stderr so the skip is never silent.
 */
export interface Requirement {
  /** Pass to `it.skipIf`: true only when missing and not under CI. */
  skip: boolean;
  /** Call first inside the test: throws naming what is missing. */
  require(): void;
}

/** `missing` says what is missing and how to get it; undefined when all is there. */
export function requirement(what: string, missing: string | undefined): Requirement {
  if (missing !== undefined && !inCi) console.warn(`SKIPPING tests that need ${what}: ${missing}`);
  return {
    skip: missing !== undefined && !inCi,
    require() {
      if (missing !== undefined) throw new Error(missing);
    },
  };
}

/** A command on PATH, from a Debian package. */
export function tool(command: string, aptPackage: string): Requirement {
  const present = spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
  return requirement(command, present ? undefined : `${command} is not installed (apt-get install ${aptPackage}; .ci/run installs it)`);
}

/**
 * Waits until a task answers HTTP on its first port, and returns the body. RUNNING means the
 * process started, not that it listens yet (that is what health checks are for): a server
 * under a small CPU quota takes a moment to bind, so this asks until it answers.
 */
export function taskAnswer(task: { id: string; ports: number[]; ipAddresses: { ipAddress: string }[] }): Promise<string> {
  return waitFor(
    `task ${task.id} to answer HTTP`,
    () =>
      fetch(`http://${task.ipAddresses[0]?.ipAddress}:${task.ports[0]}/`).then(
        (r) => r.text(),
        () => undefined,
      ),
    15_000,
    100,
  );
}
