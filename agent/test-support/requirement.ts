/**
 * Something a test needs from the machine (dockerd, openssl...). Present: the test runs.
 * Missing: under CI=true the test runs and fails naming what is missing and how to get it;
 * elsewhere it is skipped, with a warning on stderr so the skip is never silent.
 */
export interface Requirement {
  /** Pass to `test.skipIf`: true only when missing and not under CI. */
  skip: boolean;
  /** Call first inside the test: throws naming what is missing. */
  require(): void;
}

/** `missing` says what is missing and how to get it; undefined when all is there. */
export function requirement(what: string, missing: string | undefined): Requirement {
  const inCi = process.env.CI === "true";
  if (missing !== undefined && !inCi) console.warn(`SKIPPING tests that need ${what}: ${missing}`);
  return {
    skip: missing !== undefined && !inCi,
    require() {
      if (missing !== undefined) throw new Error(missing);
    },
  };
}
