import { listAgents } from "../../agents.ts";
import { freeRanges } from "../../allocator/offers.ts";
import { SCALAR_NAMES } from "../../allocator/drf.ts";
import type { ClusterDb } from "../../db.ts";
import { liveTasks } from "../../tasks.ts";
import type { Waiting } from "./apps.ts";

/**
 * One agent the last allocation round considered for a waiting app and turned down, with the
 * allocator's own reasons (the API renames them to Marathon's `NoOfferMatchReason`s). Its
 * resources are what the agent has free now: DCX's offers to Marathon are agents within one
 * round, not stored Mesos offers, so nothing older is kept.
 */
export interface UnusedOffer {
  agentId: string;
  hostname: string;
  role: string;
  /** Ports as Mesos ranges, inclusive. */
  resources: { cpus: number; mem: number; disk: number; gpus: number; ports: { begin: number; end: number }[] };
  attributes: Record<string, string | number>;
  reasons: string[];
  /** When the round ran (ISO). */
  timestamp: string;
}

/** The app's last unused offers (`GET /v2/queue?embed=lastUnusedOffers`); agents since removed are left out. */
export function unusedOffers(db: ClusterDb, waiting: Waiting | null): UnusedOffer[] {
  if (!waiting?.offers?.length) return [];
  const agents = new Map(listAgents(db).map((a) => [a.id, a]));
  const timestamp = new Date(waiting.offeredAt ?? Date.parse(waiting.since)).toISOString();
  const out: UnusedOffer[] = [];
  for (const { agentId, reasons } of waiting.offers) {
    const agent = agents.get(agentId);
    if (!agent) continue;
    const running = liveTasks(db, { agentId });
    const resources = {
      cpus: 0,
      mem: 0,
      disk: 0,
      gpus: 0,
      ports: freeRanges(
        agent.resources.ports,
        running.flatMap((t) => t.ports),
      ).map(([begin, end]) => ({ begin, end })),
    };
    for (const name of SCALAR_NAMES) resources[name] = Math.max(0, agent.resources[name] - running.reduce((sum, t) => sum + t.resources[name], 0));
    out.push({ agentId, hostname: agent.hostname, role: agent.role, resources, attributes: agent.attributes, reasons, timestamp });
  }
  return out;
}
