import { AUDITED_COMMANDS, type CommandName } from "./cluster/acting.ts";
import type { Actor } from "./cluster/audit.ts";
import { forgetDnsSnapshot } from "./dns/edge.ts";

/** The Cluster Durable Object of a cluster: one object per cluster, named by the cluster id. */
export function clusterStub(env: Env, clusterId: string) {
  return env.CLUSTER.getByName(clusterId);
}

/** The cluster's commands that change it, with the signatures its stub gives them. */
export type ActingCommands = Pick<ReturnType<typeof clusterStub>, CommandName>;

/**
 * The cluster's commands, acting for `actor`: each call is one RPC (`act`) that runs the
 * command and writes its row of the cluster's audit log in the command's own transaction. Once
 * it returns, this isolate's copy of the cluster's DNS zone is no longer leased, so a kill (or
 * any other change) is seen by the next DNS query answered here.
 */
export function actingStub(env: Env, clusterId: string, actor: Actor): ActingCommands {
  // `act` takes the command's arguments as a list; its RPC type is widened, so it is typed here by hand.
  const stub = clusterStub(env, clusterId) as unknown as { act(actor: Actor, command: CommandName, args: unknown[]): Promise<unknown> };
  const commands: Partial<Record<CommandName, (...args: unknown[]) => Promise<unknown>>> = {};
  for (const name of AUDITED_COMMANDS) commands[name] = (...args) => stub.act(actor, name, args).finally(() => forgetDnsSnapshot(clusterId));
  return commands as unknown as ActingCommands;
}
