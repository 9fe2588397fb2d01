import type { ClusterDb } from "../db.ts";
import { externalFramework, HeldUpdates } from "./external/framework.ts";
import type { FrameworkMailbox } from "./external/mailbox.ts";
import { activeFrameworks, getFramework } from "./external/store.ts";
import type { Framework, FrameworkContext } from "./framework.ts";
import { marathonFramework } from "./marathon/framework.ts";
import { metronomeFramework } from "./metronome/framework.ts";

/** `FrameworkRegistry.of` for one batch; `settle` writes what its frameworks held back. */
export interface FrameworkLookup {
  (name: string): Framework | undefined;
  settle(ctx: FrameworkContext): void;
}

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
   * each framework's row once, not once per task. The updates its external frameworks owe are
   * held and written together by `settle`, which the batch must call before it commits.
   */
  cached(db: ClusterDb): FrameworkLookup {
    const memo = new Map<string, Framework | undefined>();
    const held = new HeldUpdates();
    const lookup = (name: string) => {
      if (!memo.has(name)) memo.set(name, this.builtIn.find((f) => f.name === name) ?? this.external(db, name, held));
      return memo.get(name);
    };
    return Object.assign(lookup, { settle: (ctx: FrameworkContext) => held.settle(ctx, this.mailbox) });
  }

  /** The framework a task belongs to (its `framework` column), torn down or not; undefined when unknown. */
  of(db: ClusterDb, name: string): Framework | undefined {
    const builtIn = this.builtIn.find((f) => f.name === name);
    if (builtIn) return builtIn;
    return this.external(db, name);
  }

  private external(db: ClusterDb, name: string, held?: HeldUpdates): Framework | undefined {
    const record = getFramework(db, name);
    return record ? externalFramework(record, this.mailbox, held) : undefined;
  }
}
