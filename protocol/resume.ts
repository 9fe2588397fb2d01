import { z } from "zod";
import { isAlive, type TaskState } from "./task-state.ts";

/**
 * The resume step of a re-registration. After a reset of the master every agent registers again
 * at once; squaring each one's task list with the master's table costs the Cluster object a
 * transaction per agent. The agent therefore sends a digest of the tasks it runs as it last
 * reported them; when the master's own record of that agent hashes the same, nothing has changed
 * on either side and the master skips the per-task reconciliation (and its allocation round).
 * What did change while the socket was down travels as before: the agent's unacked status
 * updates, resent from its outbox once the session is up. A digest that differs (or none, from
 * an agent before resume) falls back to the full reconciliation of `register.tasks`.
 */
export const Resume = z.strictObject({
  /** `taskSetDigest` of the agent's live tasks (the `tasks` of the same register whose state is alive). */
  digest: z.string().min(1).max(64),
});
export type Resume = z.infer<typeof Resume>;

/** One task as both sides hash it. */
export interface DigestedTask {
  taskId: string;
  state: TaskState;
}

/**
 * A digest of a set of tasks and their states, the same for the same set in any order. Two
 * 53-bit lanes (cyrb53, public domain) over `taskId\u0000state\n` in taskId order: a false
 * match, which would skip a reconciliation that was due, takes a collision of 106 bits. The
 * agent hashes the tasks it reports alive; the master hashes every live task it holds for the
 * agent, so a task it still counts but the agent does not (or counts as UNREACHABLE) differs.
 */
export function taskSetDigest(tasks: readonly DigestedTask[]): string {
  const sorted = [...tasks].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  let text = "";
  for (const t of sorted) text += `${t.taskId}\u0000${t.state}\n`;
  return `${sorted.length.toString(36)}-${cyrb53(text, 0x9e3779b9).toString(36)}-${cyrb53(text, 0x85ebca6b).toString(36)}`;
}

/** What the agent reports of its tasks, narrowed to those alive: what `resume.digest` is taken over. */
export function aliveTasks<T extends DigestedTask>(tasks: readonly T[]): T[] {
  return tasks.filter((t) => isAlive(t.state));
}

/** cyrb53 (bryc, public domain): a fast 53-bit string hash with good dispersion. */
function cyrb53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
