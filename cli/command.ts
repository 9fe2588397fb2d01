import type { ArgDef, ArgsDef, CommandDef } from "citty";
import { UsageError } from "./errors.ts";

/**
 * The command tree on top of citty. citty parses leniently (an unknown flag is ignored, an
 * extra argument dropped), which would let `dcx app add web.json --no-wiat` wait anyway; so
 * before a command runs, its command line is checked against its declared arguments here.
 */

/** Commands that take any number of positional arguments (their last positional repeats). */
const VARIADIC = new WeakSet<object>();
/** Commands that get their raw arguments unchecked and parse them themselves (`dcx agent run`). */
const PASSTHROUGH = new WeakSet<object>();

/** Marks a command whose last positional argument may repeat, e.g. `dcx task kill ID...`. */
export function variadic<T extends ArgsDef>(cmd: CommandDef<T>): CommandDef<T> {
  VARIADIC.add(cmd);
  return cmd;
}

/** Marks a command that parses its own arguments, help included. */
export function passthrough<T extends ArgsDef>(cmd: CommandDef<T>): CommandDef<T> {
  PASSTHROUGH.add(cmd);
  return cmd;
}

export const isPassthrough = (cmd: CommandDef) => PASSTHROUGH.has(cmd);

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? (value as () => T | Promise<T>)() : value;
}

/** A command found in the tree, with its words (`dcx app add`) and the arguments left for it. */
export interface Resolved {
  cmd: CommandDef;
  path: string[];
  rest: string[];
  /** True when `cmd` is a group (it has subcommands) and none was named. */
  group: boolean;
}

/** Walks the subcommands named at the front of `argv`. Groups take no flags of their own. */
export async function resolveCommand(root: CommandDef, argv: readonly string[], rootName: string): Promise<Resolved> {
  let cmd = root;
  const path = [rootName];
  let i = 0;
  for (;;) {
    const subs = await resolve(cmd.subCommands);
    if (!subs) return { cmd, path, rest: argv.slice(i), group: false };
    const name = argv[i];
    if (name === undefined || name.startsWith("-")) return { cmd, path, rest: argv.slice(i), group: true };
    const next = subs[name];
    if (!next) throw new UsageError(`unknown command '${[...path, name].join(" ")}'`, path);
    cmd = await resolve(next);
    path.push(name);
    i++;
  }
}

/** Throws a UsageError for an undeclared flag, a flag missing its value, or a surplus argument. */
export async function checkArguments<T extends ArgsDef>(cmd: CommandDef<T>, argv: readonly string[]): Promise<void> {
  const defs: ArgsDef = (await resolve(cmd.args)) ?? {};
  const options = Object.entries(defs).filter(([, d]) => d.type !== "positional");
  const byName = new Map<string, ArgDef>();
  for (const [name, def] of options) {
    byName.set(name, def);
    for (const alias of "alias" in def ? [def.alias ?? []].flat() : []) byName.set(alias, def);
  }
  let positionals = 0;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? "";
    if (token === "--") {
      positionals += argv.length - i - 1;
      break;
    }
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) {
      positionals++;
      continue;
    }
    const [flag = "", inline] = token.replace(/^--?/, "").split(/=(.*)/s);
    const negated = flag.startsWith("no-") && byName.get(flag.slice(3))?.type === "boolean";
    const def = negated ? byName.get(flag.slice(3)) : byName.get(flag);
    if (!def) throw new UsageError(`unknown option '${token.split("=")[0]}'`);
    if (def.type === "boolean" || inline !== undefined) continue;
    const value = argv[i + 1];
    if (value === undefined || (value.startsWith("-") && value !== "-" && !/^-\d/.test(value))) throw new UsageError(`option '${token}' needs a value`);
    i++;
  }
  const declared = Object.values(defs).filter((d) => d.type === "positional").length;
  if (positionals > declared && !VARIADIC.has(cmd)) throw new UsageError(`too many arguments (expected at most ${declared})`);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration flag in seconds: `90`, `90s`, `15m`, `24h` or `7d`. */
export function parseSeconds(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(value.trim());
  if (!m) throw new UsageError(`--${flag}: '${value}' is not a duration (e.g. 90, 90s, 15m, 24h, 7d)`);
  return Number(m[1]) * (UNIT_SECONDS[m[2] || "s"] ?? 1);
}

/** A whole number argument, at least zero. */
export function parseCount(name: string, value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${name}: '${value}' is not a whole number`);
  return Number(value);
}
