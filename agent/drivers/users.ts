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
 * How long a user found is used without asking again: a launch asks twice (the agent's policy,
 * then the exec driver), and each `getent` is a process spawned and waited for.
 */
export const USER_CACHE_MS = 10_000;
/**
 * Past USER_CACHE_MS, and up to this age, a user found is still answered at once while `getent`
 * asks again in the background (nscd keeps a positive answer 600 s): a launch that comes more
 * than USER_CACHE_MS after the last never waits 1-3 ms for a process spawned on its path. An
 * unknown name is never remembered, so a user created meanwhile is found at once; one removed
 * meanwhile is forgotten once the background lookup answers.
 */
export const USER_STALE_MS = 600_000;
/** How long a background lookup waits before it spawns `getent`: the launch that asked sends its TASK_RUNNING first. */
const REFRESH_DELAY_MS = 100;
/** What a user name may be: a name that does not match (or looks like an option) is never looked up. */
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$/;

const found = new Map<string, { user: UnixUser; at: number }>();
/** Background lookups under way, by name. */
const refreshing = new Map<string, Promise<void>>();

/**
 * Looks a user up by name the way the C library does (`getent passwd`, so LDAP and other NSS
 * sources count), falling back to /etc/passwd where getent is missing. Undefined when unknown.
 * A user found is remembered (USER_CACHE_MS, USER_STALE_MS); `now`, by performance.now(), for tests.
 */
export function lookupUser(name: string, now = performance.now()): UnixUser | undefined {
  const cached = found.get(name);
  if (cached !== undefined && now >= cached.at && now - cached.at < USER_STALE_MS) {
    if (now - cached.at >= USER_CACHE_MS) void refreshUser(name, now, REFRESH_DELAY_MS);
    return cached.user;
  }
  const user = lookupUncached(name);
  if (user === undefined) found.delete(name);
  else found.set(name, { user, at: now });
  return user;
}

/**
 * Looks `name` up again without blocking the caller (an asynchronous `getent`, `delayMs` from
 * now), and remembers the answer as of `now`; one lookup per name at a time. Resolves once it is
 * remembered (or forgotten, for a name gone meanwhile); a lookup that fails leaves what was remembered.
 */
export function refreshUser(name: string, now = performance.now(), delayMs = 0): Promise<void> {
  const running = refreshing.get(name);
  if (running !== undefined) return running;
  const done = Bun.sleep(delayMs)
    .then(() => lookupInBackground(name))
    .then((user) => {
      if (user === null) return;
      if (user === undefined) found.delete(name);
      else found.set(name, { user, at: now });
    })
    .finally(() => refreshing.delete(name));
  refreshing.set(name, done);
  return done;
}

/** `getent passwd NAME` as a child the event loop waits for; null when it could not be asked. */
async function lookupInBackground(name: string): Promise<UnixUser | undefined | null> {
  if (!USER_NAME.test(name)) return undefined;
  if (!existsSync(GETENT)) return lookupUncached(name);
  try {
    const child = Bun.spawn([GETENT, "passwd", name], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
    const [text, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    // getent's 2 is "no such key"; anything else (a failing NSS source) says nothing of the user.
    if (code !== 0) return code === 2 ? undefined : null;
    return parsePasswdLine(text.trim(), name);
  } catch {
    return null;
  }
}

function lookupUncached(name: string): UnixUser | undefined {
  if (!USER_NAME.test(name)) return undefined;
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
