import type { ClusterDb } from "../db.ts";
import { externalFramework } from "./external/framework.ts";
import type { FrameworkMailbox } from "./external/mailbox.ts";
import { activeFrameworks, getFramework } from "./external/store.ts";
import type { Framework } from "./framework.ts";
import { marathonFramework } from "./marathon/framework.ts";
import { metronomeFramework } from "./metronome/framework.ts";

/**
 * The frameworks registered with a cluster: the two built into every cluster, then the
 * external ones subscribed over the scheduler API (read from storage each time, so a round
 * always sees them as they are). The allocation round and the coordinator reach frameworks
 * only through here.
 */
export class FrameworkRegistry {
  private readonly builtIn: readonly Framework[] = [marathonFramework, metronomeFramework];

  constructor(
    /** Where external frameworks' events wait for the transaction that raised them to commit. */
    readonly mailbox: FrameworkMailbox,
    /** How long an offer is held for an external framework before it is rescinded. */
    readonly offerTimeoutMs: number,
  ) {}

  /** Every framework not torn down, built-in first. */
  all(db: ClusterDb): Framework[] {
    return [...this.builtIn, ...activeFrameworks(db).map((f) => externalFramework(f, this.mailbox))];
  }

  /**
   * `of`, memoized for one batch of status updates, which changes no framework: the batch reads
   * each framework's row once, not once per task.
   */
  cached(db: ClusterDb): (name: string) => Framework | undefined {
    const memo = new Map<string, Framework | undefined>();
    return (name) => {
      if (!memo.has(name)) memo.set(name, this.of(db, name));
      return memo.get(name);
    };
  }

  /** The framework a task belongs to (its `framework` column), torn down or not; undefined when unknown. */
  of(db: ClusterDb, name: string): Framework | undefined {
    const builtIn = this.builtIn.find((f) => f.name === name);
    if (builtIn) return builtIn;
    const record = getFramework(db, name);
    return record ? externalFramework(record, this.mailbox) : undefined;
  }
}
