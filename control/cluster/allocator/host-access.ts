/**
 * Which agents would run a task that reaches beyond its sandbox (privileged, as root, added
 * capabilities, host paths, devices): those whose allowances cover it. An agent that did not
 * say what it allows (one from before allowances) is admitted, and refuses at launch if it must.
 */
import { refusedAccess, REFUSED_ACCESS, type HostAccess, type HostAllowances } from "../../../protocol/host-access.ts";
import type { ConstraintCheck } from "./constraints.ts";

/**
 * The task's needs as checks on agents, one per kind of need, so the queue says which allowance
 * was missing; static within a plan (allowances are fixed at registration), like roles.
 */
export function hostAccessChecks(need: HostAccess | undefined, allowances: readonly (HostAllowances | null | undefined)[]): ConstraintCheck[] {
  if (need === undefined) return [];
  const refused = allowances.map((allowed) => (allowed ? refusedAccess(need, allowed) : undefined));
  const labels = new Set(refused.filter((r): r is string => r !== undefined));
  return Object.values(REFUSED_ACCESS)
    .filter((label) => labels.has(label))
    .map((label) => ({ label, admits: (agent: number) => refused[agent] !== label }));
}
