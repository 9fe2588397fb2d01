import type { ClusterDb } from "../db.ts";
import type { Framework } from "./framework.ts";
import { marathonFramework } from "./marathon/framework.ts";
import { metronomeFramework } from "./metronome/framework.ts";

/**
 * The frameworks registered with a cluster: the two built into every cluster, then the
 * external ones subscribed over the scheduler API. The allocation round and the coordinator
 * reach frameworks only through here.
 */
export class FrameworkRegistry {
  private readonly builtIn: readonly Framework[] = [marathonFramework, metronomeFramework];

  constructor(private readonly external: (db: ClusterDb) => Framework[] = () => []) {}

  /** Every framework, built-in first. */
  all(db: ClusterDb): Framework[] {
    return [...this.builtIn, ...this.external(db)];
  }

  /** The framework a task belongs to (its `framework` column), or undefined once it is gone. */
  of(db: ClusterDb, name: string): Framework | undefined {
    return this.builtIn.find((f) => f.name === name) ?? this.external(db).find((f) => f.name === name);
  }
}
