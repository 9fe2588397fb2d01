import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { CliError, errorText } from "./errors.ts";

/**
 * The CLI's credentials: which control plane, the user's API token, and the cluster that
 * cluster-scoped commands act on. Kept in one JSON file readable by its owner only.
 */
export const Config = z.object({
  /** Base URL of the control plane, without a trailing slash. */
  url: z.url(),
  token: z.string().min(1),
  /** The current cluster (`dcx cluster use`). */
  cluster: z.string().min(1).optional(),
  email: z.string().optional(),
  /** Set by `--insecure` at login: the operator accepted a plain http URL that is not loopback. */
  insecure: z.literal(true).optional(),
});
export type Config = z.infer<typeof Config>;

/** `$DCX_CONFIG`, else `$XDG_CONFIG_HOME/dcx/config.json`, else `~/.config/dcx/config.json`. */
export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  if (env.DCX_CONFIG) return resolve(env.DCX_CONFIG);
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "dcx", "config.json");
}

/** The stored config, or undefined when there is none yet; a file that does not parse is an error, never silently replaced. */
export function readConfig(path: string): Config | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${path}: ${errorText(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${path} is not JSON: ${errorText(error)}`);
  }
  const parsed = Config.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${path} is not a dcx config: ${issue?.path.join(".") || "value"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/**
 * Writes the config atomically with mode 0600: a temp file created owner-only (the mode is
 * given at creation so a loose umask cannot widen it, and no other user can ever read the
 * token), fsynced, then renamed over the old file, so a crash leaves the old or the new one.
 */
export function writeConfig(path: string, config: Config): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    const fd = openSync(temp, "wx", 0o600);
    try {
      writeSync(fd, JSON.stringify(Config.parse(config), null, 2) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new CliError(`cannot write ${path}: ${errorText(error)}`);
  }
}
