import type { AccountsDb } from "./db.ts";
import { auditLog } from "./schema.ts";

/** Records who did what to which cluster; written in the same request as the change it records. */
export async function audit(db: AccountsDb, entry: { clusterId?: string; userId: string; action: string; target?: string }): Promise<void> {
  await db.insert(auditLog).values({ clusterId: entry.clusterId ?? null, userId: entry.userId, action: entry.action, target: entry.target ?? null });
}
