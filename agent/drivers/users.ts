import { existsSync, readFileSync } from "node:fs";
import os from "node:os";

/** A Unix account a task may run as. */
export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const GETENT = "/usr/bin/getent";

/** Who a root agent runs exec tasks without a `user` as, unless `--task-user` says otherwise. */
export const DEFAULT_TASK_USER = "nobody";

/**
 * How long a user found is remembered (as nscd does, for much longer): a launch asks twice (the
 * agent's policy, then the exec driver), and each `getent` is a process spawned on the launch's
 * path. An unknown name is never remembered, so a user created meanwhile is found at once.
 */
export const USER_CACHE_MS = 10_000;
const found = new Map<string, { user: UnixUser; at: number }>();

/**
 * Looks a user up by name the way the C library does (`getent passwd`, so LDAP and other NSS
 * sources count), falling back to /etc/passwd where getent is missing. Undefined when unknown.
 * A user found is remembered for USER_CACHE_MS (`now`, by performance.now(), for tests).
 */
export function lookupUser(name: string, now = performance.now()): UnixUser | undefined {
  const cached = found.get(name);
  if (cached !== undefined && now >= cached.at && now - cached.at < USER_CACHE_MS) return cached.user;
  const user = lookupUncached(name);
  if (user === undefined) found.delete(name);
  else found.set(name, { user, at: now });
  return user;
}

function lookupUncached(name: string): UnixUser | undefined {
  // A name that is no valid user name (or looks like an option) is never looked up.
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/.test(name)) return undefined;
  if (existsSync(GETENT)) {
    const result = Bun.spawnSync([GETENT, "passwd", name], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
    if (result.exitCode !== 0) return undefined;
    return parsePasswdLine(result.stdout.toString().trim(), name);
  }
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith(`${name}:`));
  return line === undefined ? undefined : parsePasswdLine(line, name);
}

/** The agent's own account. */
export function agentUser(): UnixUser {
  const info = os.userInfo();
  return { name: info.username, uid: info.uid, gid: info.gid, home: info.homedir };
}

/** Whether the agent may run tasks as other users. */
export function agentIsRoot(): boolean {
  return process.getuid?.() === 0;
}

/** `name:password:uid:gid:gecos:home:shell`. */
function parsePasswdLine(line: string, name: string): UnixUser | undefined {
  const fields = line.split(":");
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (fields[0] !== name || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) return undefined;
  return { name, uid, gid, home: fields[5] ?? "/" };
}
