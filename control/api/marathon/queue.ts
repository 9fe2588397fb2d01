import type { UnusedOffer } from "../../cluster/frameworks/marathon/unused-offers.ts";
import { queueEntryWire } from "./wire.ts";

/**
 * Marathon's launch queue (`GET /v2/queue`, `types/queue.raml`): why offers went unused, in
 * Marathon's own reason names (`NoOfferMatchReason`), in the order Marathon checks them.
 */
export const REJECT_REASONS = [
  "UnfulfilledRole",
  "UnfulfilledConstraint",
  "NoCorrespondingReservationFound",
  "AgentMaintenance",
  "InsufficientCpus",
  "InsufficientMemory",
  "InsufficientDisk",
  "InsufficientGpus",
  "InsufficientPorts",
  "DeclinedScarceResources",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * Marathon's name for one of the allocator's reasons, or undefined for an agent the
 * framework's refuse filter kept back: Marathon never sees those offers, so it never counts them.
 */
export function rejectReason(reason: string): RejectReason | undefined {
  if (reason.startsWith("declined")) return undefined;
  if (reason === "insufficient cpus") return "InsufficientCpus";
  if (reason === "insufficient mem") return "InsufficientMemory";
  if (reason === "insufficient disk") return "InsufficientDisk";
  if (reason === "insufficient gpus") return "InsufficientGpus";
  if (reason.startsWith("port ")) return "InsufficientPorts";
  if (/\brole\b/i.test(reason)) return "UnfulfilledRole";
  if (/\bmaintenance\b|\bdrain/i.test(reason)) return "AgentMaintenance";
  // Constraints, and what the agent cannot run (Docker), which Marathon would express as one.
  return "UnfulfilledConstraint";
}

export interface RejectSummary {
  reason: RejectReason;
  declined: number;
  processed: number;
}

/**
 * `rejectSummaryLastOffers`: every reason in Marathon's order, as a funnel. `processed` is
 * how many offers reached that check, `declined` how many it turned down; an agent refused
 * for several reasons is counted at the first, as Marathon stops at the first failed check.
 */
export function rejectSummary(reasons: Record<string, number>, agentsConsidered: number): { summary: RejectSummary[]; unused: number } {
  const counts = new Map<RejectReason, number>();
  let filtered = 0;
  for (const [dcx, n] of Object.entries(reasons)) {
    const name = rejectReason(dcx);
    if (name === undefined) filtered += n;
    else counts.set(name, (counts.get(name) ?? 0) + n);
  }
  let processed = Math.max(0, agentsConsidered - filtered);
  const summary = REJECT_REASONS.map((reason) => {
    const declined = Math.min(counts.get(reason) ?? 0, processed);
    const row = { reason, declined, processed };
    processed -= declined;
    return row;
  });
  return { summary, unused: summary.reduce((n, r) => n + r.declined, 0) };
}

interface QueueEntry {
  processedOffersSummary: { processedOffersCount: number; rejectSummaryLastOffers: { reason: string; declined: number; processed: number }[] };
  lastUnusedOffers?: UnusedOffer[];
}

/**
 * One unused offer in Marathon's shape (`UnusedOffer` of types/queue.raml): the offer (the
 * agent and what it has free, as Mesos resources and attributes), Marathon's names for why it
 * went unused, in Marathon's order, and when. DCX offers an agent within a round rather than
 * minting Mesos offers, so the id is the agent's id and the round's time.
 */
export function unusedOfferJson(o: UnusedOffer) {
  const names = new Set(o.reasons.map(rejectReason));
  const scalar = (name: string, value: number) => ({ name, role: o.role, scalar: value });
  const resources = [scalar("cpus", o.resources.cpus), scalar("mem", o.resources.mem), scalar("disk", o.resources.disk)];
  if (o.resources.gpus > 0) resources.push(scalar("gpus", o.resources.gpus));
  const ports = { name: "ports", role: o.role, ranges: o.resources.ports };
  const attributes = Object.entries(o.attributes).map(([name, v]) => (typeof v === "number" ? { name, scalar: v } : { name, text: v }));
  return {
    offer: { id: `${o.agentId}-O${Date.parse(o.timestamp)}`, agentId: o.agentId, hostname: o.hostname, resources: [...resources, ports], attributes },
    reason: REJECT_REASONS.filter((r) => names.has(r)),
    timestamp: o.timestamp,
  };
}

/**
 * A queue entry as Marathon sends it: reasons renamed and counted as Marathon does, and,
 * with `?embed=lastUnusedOffers`, the last round's unused offers, each with its reasons.
 */
export function queueEntryJson<T extends QueueEntry>(entry: T, lastUnusedOffers: boolean) {
  const dcx = Object.fromEntries(entry.processedOffersSummary.rejectSummaryLastOffers.map((r) => [r.reason, r.declined]));
  const { summary, unused } = rejectSummary(dcx, entry.processedOffersSummary.processedOffersCount);
  const { lastUnusedOffers: offers = [], ...rest } = entry;
  return {
    ...queueEntryWire(rest),
    processedOffersSummary: { ...entry.processedOffersSummary, unusedOffersCount: unused, rejectSummaryLastOffers: summary },
    ...(lastUnusedOffers ? { lastUnusedOffers: offers.map(unusedOfferJson) } : {}),
  };
}
