import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { Agent } from "./agent.ts";
import { ConfigError } from "./config.ts";
import { IDENTITY_FILE, checkIdentityCluster, ensureWorkDir, identityPath, loadIdentity, saveIdentity } from "./identity.ts";

const IDENTITY = { agentId: "agent-1", credential: "cred-abc", cluster: "c1", master: "http://127.0.0.1:8787" };
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-identity-"));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("identity", () => {
  test("the work dir is created owner-only, parents included", () => {
    const workDir = join(tempDir(), "a", "b");
    ensureWorkDir(workDir);
    expect(statSync(workDir).mode & 0o777).toBe(0o700);
  });

  test("an agent that never joined has no identity, even without a work dir", () => {
    const root = tempDir();
    expect(loadIdentity(root)).toBeUndefined();
    expect(loadIdentity(join(root, "missing"))).toBeUndefined();
  });

  test("save then load returns the identity, in a 0600 file, whatever the umask", () => {
    const workDir = tempDir();
    const previous = process.umask(0);
    try {
      saveIdentity(workDir, IDENTITY);
    } finally {
      process.umask(previous);
    }
    expect(loadIdentity(workDir)).toEqual(IDENTITY);
    expect(statSync(identityPath(workDir)).mode & 0o777).toBe(0o600);
  });

  test("saving replaces the file by rename and leaves no temp file behind", () => {
    const workDir = tempDir();
    saveIdentity(workDir, IDENTITY);
    const before = statSync(identityPath(workDir)).ino;
    saveIdentity(workDir, { ...IDENTITY, credential: "cred-new" });
    // A new inode means the old file was never truncated in place: readers saw old or new, never half.
    expect(statSync(identityPath(workDir)).ino).not.toBe(before);
    expect(loadIdentity(workDir)?.credential).toBe("cred-new");
    expect(readdirSync(workDir)).toEqual([IDENTITY_FILE]);
  });

  test("a failed save throws and cleans up its temp file", () => {
    const workDir = tempDir();
    // rename() cannot replace a directory with a file.
    mkdirSync(identityPath(workDir));
    expect(() => saveIdentity(workDir, IDENTITY)).toThrow();
    expect(readdirSync(workDir)).toEqual([IDENTITY_FILE]);
  });

  test("a damaged identity file is reported with its path and the way out", () => {
    const workDir = tempDir();
    writeFileSync(identityPath(workDir), "{not json");
    expect(() => loadIdentity(workDir)).toThrow(new RegExp(`${identityPath(workDir)}.*delete it`));
    writeFileSync(identityPath(workDir), JSON.stringify({ agentId: "x" }));
    expect(() => loadIdentity(workDir)).toThrow(/not an agent identity/);
  });

  test("an identity of another cluster is refused, naming --cluster and the file", () => {
    const workDir = tempDir();
    expect(() => checkIdentityCluster(IDENTITY, "c1", workDir)).not.toThrow();
    let caught: unknown;
    try {
      checkIdentityCluster(IDENTITY, "c2", workDir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).flag).toBe("--cluster");
    expect((caught as ConfigError).message).toContain(identityPath(workDir));
  });

  test("Agent.create refuses a work dir that belongs to another cluster", () => {
    const workDir = tempDir();
    saveIdentity(workDir, IDENTITY);
    const config = { master: IDENTITY.master, cluster: "c2", workDir, resources: {}, attributes: {}, backoffMaxMs: 100, killTasksOnExit: false };
    expect(() => Agent.create(config)).toThrow(/--cluster: 'c2' differs from cluster 'c1'/);
  });

  test("Agent.create needs --token only while the work dir holds no identity", () => {
    const workDir = join(tempDir(), "fresh");
    const config = { master: IDENTITY.master, cluster: "c1", workDir, resources: {}, attributes: {}, backoffMaxMs: 100, killTasksOnExit: false };
    expect(() => Agent.create(config)).toThrow(/--token is required/);
    saveIdentity((ensureWorkDir(workDir), workDir), IDENTITY);
    expect(Agent.create(config).agentId).toBe("agent-1");
  });
});
