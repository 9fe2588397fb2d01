import { spawnSync } from "node:child_process";

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
