import { forgetAgentCredentials, forgetCachedCredentials } from "../accounts/agent-credentials.ts";
import type { AccountsDb } from "../accounts/db.ts";
import type { Actor } from "../cluster/audit.ts";
import { actingStub } from "../cluster-stub.ts";
import { notFound } from "../errors.ts";

/**
 * Removes an agent (audited in the cluster's log): the Cluster object closes its socket, forgets
 * its credential and replaces its tasks; then D1 forgets the credential too. An unknown agent
 * is a 404. The API and the UI's node page both come here.
 */
export async function removeAgent(env: Env, db: AccountsDb, clusterId: string, actor: Actor, agentId: string): Promise<void> {
  const removed = await actingStub(env, clusterId, actor).removeAgent(agentId);
  if (!removed) throw notFound(`Agent '${agentId}' does not exist.`);
  await forgetAgentCredentials(db, clusterId, agentId);
  forgetCachedCredentials([clusterId], agentId);
}
