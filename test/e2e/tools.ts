import { spawnSync } from "node:child_process";

const inCi = process.env.CI === "true";

/**
 * A system tool a test needs (dig, docker...). Present: the test runs. Missing: under CI=true
 * the test runs and fails naming the tool and the package that provides it; elsewhere it is
 * skipped, with a warning on stderr so the skip is never silent.
 */
export interface Tool {
  /** Pass to `it.skipIf`: true only when missing and not under CI. */
  skip: boolean;
  /** Call first inside the test: throws naming the tool when it is missing. */
  require(): void;
}

export function tool(command: string, aptPackage: string): Tool {
  const present = spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
  const message = `${command} is not installed (apt-get install ${aptPackage}; .ci/run installs it)`;
  if (!present && !inCi) console.warn(`SKIPPING tests that need ${command}: ${message}`);
  return {
    skip: !present && !inCi,
    require() {
      if (!present) throw new Error(message);
    },
  };
}
