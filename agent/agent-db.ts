import { Database } from "bun:sqlite";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";

/**
 * The agent's own SQLite database, `<work-dir>/agent.db`: task records (task-store.ts) and the
 * status outbox (outbox.ts), each module owning its table. One file, so a state change and the
 * status update that reports it commit in one transaction.
 *
 * Durability: WAL with synchronous=NORMAL. A commit survives the agent process crashing or being
 * SIGKILLed (it is in the OS before the statement returns); only a power cut may lose the last
 * commits, and a power cut also ends every task, which the next registration and the master's
 * reconciliation settle anyway. FULL would fsync every status update for no real gain.
 */

/** The database's file name in the work dir. */
export const AGENT_DB_FILE = "agent.db";

/** Opens (creating if needed) the agent database of a work dir. */
export function openAgentDb(workDir: string): Database {
  const path = join(workDir, AGENT_DB_FILE);
  // Created 0600 before SQLite opens it: launches carry environments that may hold secrets,
  // and SQLite gives the -wal and -shm files the database file's permissions.
  closeSync(openSync(path, "a", 0o600));
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA busy_timeout = 5000");
  return db;
}
