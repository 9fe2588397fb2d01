import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError } from "./config.ts";

/**
 * The agent's identity: the id and per-agent credential the master handed out on the first
 * registration with a join token. Losing it means joining again as a new agent, so it is written
 * atomically and durably, and readable by the agent's user only.
 */

export const IDENTITY_FILE = "identity.json";

/** The identity file's format. Local to the agent: it never crosses the wire. */
const IdentitySchema = z.strictObject({
  agentId: z.string().min(1),
  credential: z.string().min(1),
  cluster: z.string().min(1),
  master: z.string().min(1),
});
export type Identity = z.infer<typeof IdentitySchema>;

/** Where the identity of the agent using `workDir` lives. */
export function identityPath(workDir: string): string {
  return join(workDir, IDENTITY_FILE);
}

/** Creates the work dir (owner-only, it holds a credential) if it does not exist yet. */
export function ensureWorkDir(workDir: string): void {
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
}

/** Reads the identity, or undefined when the agent has never joined. Throws on a damaged file. */
export function loadIdentity(workDir: string): Identity | undefined {
  const path = identityPath(workDir);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON; delete it to join again with a new join token`);
  }
  const parsed = IdentitySchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`${path} is not an agent identity (${parsed.error.issues[0]?.message}); delete it to join again with a new join token`);
  }
  return parsed.data;
}

/**
 * Writes the identity so that a crash at any point leaves either the old file or the new one,
 * never a torn one: write a temp file (0600) in the same directory, fsync it, rename it over
 * the old one, then fsync the directory so the rename itself survives a power cut.
 */
export function saveIdentity(workDir: string, identity: Identity): void {
  const path = identityPath(workDir);
  const text = JSON.stringify(IdentitySchema.parse(identity), null, 2) + "\n";
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    writeDurably(temp, text);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncDirectory(workDir);
}

/**
 * Refuses an identity that belongs to another cluster: reusing a work dir across clusters would
 * present one cluster's credential to another, which can only fail, and confusingly.
 */
export function checkIdentityCluster(identity: Identity, cluster: string, workDir: string): void {
  if (identity.cluster === cluster) return;
  throw new ConfigError(
    `--cluster: '${cluster}' differs from cluster '${identity.cluster}' of the agent identity in ${identityPath(workDir)}; ` +
      `use another --work-dir, or delete that file to join cluster '${cluster}' with a new join token`,
    "--cluster",
  );
}

/** Creates `path` owner-only (the mode is given explicitly so a loose umask cannot widen it) and fsyncs it. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
