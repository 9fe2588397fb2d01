/** Exit codes of `dcx`: 0 success, 1 the operation failed (server, network, deployment), 2 bad usage. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/** A failure to report as `dcx: message` (plus detail lines) on stderr, with a non-zero exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    /** Further lines, e.g. a 422's field paths, printed indented under the message. */
    readonly details: readonly string[] = [],
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A command line that cannot be run as given (unknown flag, missing argument): exit code 2. */
export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command whose help to point at, when it is not the one being run (`dcx app` for `dcx app ad`). */
    readonly helpPath?: readonly string[],
  ) {
    super(message, [], EXIT.USAGE);
    this.name = "UsageError";
  }
}

/** The text of any thrown value. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
