import { CliError, UsageError } from "./errors.ts";

/**
 * The password for signup or login: `--password` if given (visible in `ps`, so meant for
 * throwaway accounts), else the first line of stdin when it is a pipe, else asked for on the
 * terminal without echo.
 */
export async function readPassword(flag: string | undefined): Promise<string> {
  const password = flag ?? (process.stdin.isTTY ? await askHidden("Password: ") : firstLine(await Bun.stdin.text()));
  if (password === "") throw new UsageError("the password is empty: pass --password, pipe it on stdin, or type it when asked");
  return password;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0] ?? "";
}

/** Reads one line from the terminal in raw mode, echoing nothing; Ctrl-C cancels. */
function askHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003") return finish(new CliError("cancelled"));
        value = ch === "\u007f" || ch === "\b" ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on("data", onData);
  });
}
