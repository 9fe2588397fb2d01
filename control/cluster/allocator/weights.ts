import { z } from "zod";
import type { ClusterDb } from "../db.ts";
import { getMeta, setMeta } from "../meta.ts";

/**
 * Role weights, as Mesos's (`/weights`, the operator API's GET_WEIGHTS and UPDATE_WEIGHTS):
 * DRF orders roles, and the frameworks of a role, by dominant share divided by the role's
 * weight, so a role of weight 2 is offered about twice the resources of a role of weight 1
 * when both want more. A role without a weight has 1. Every framework is under it, the
 * built-in ones (role `*`) and external ones (their FrameworkInfo `roles[0]`, else `role`).
 * Kept in the `meta` table (key ROLE_WEIGHTS_KEY) as `{role: weight}`; this module owns that key.
 */
const ROLE_WEIGHTS_KEY = "role_weights";

/** At most this many roles carry a weight. */
export const MAX_WEIGHTED_ROLES = 256;

/** Mesos's WeightInfo: a role and its weight (positive and finite). */
export const WeightInfo = z.strictObject({
  role: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\s/]+(\/[^\s/]+)*$/, { message: "must be a Mesos role name: no spaces, no empty path segment" }),
  weight: z.number().positive().max(1_000_000),
});
export type WeightInfo = z.infer<typeof WeightInfo>;

/** A list of weights to set; a role named twice is refused (which one was meant?). */
export const WeightInfos = z
  .array(WeightInfo)
  .max(MAX_WEIGHTED_ROLES)
  .refine((list) => new Set(list.map((w) => w.role)).size === list.length, { message: "names a role twice" });

/** The roles that carry a weight, by name. */
export function roleWeights(db: ClusterDb): WeightInfo[] {
  const stored = getMeta(db, ROLE_WEIGHTS_KEY);
  const map = stored === undefined ? {} : (JSON.parse(stored) as Record<string, number>);
  return Object.entries(map)
    .map(([role, weight]) => ({ role, weight }))
    .sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}

/** Sets the weights of the roles named (others keep theirs), as Mesos's UPDATE_WEIGHTS; false when more than MAX_WEIGHTED_ROLES would carry one. */
export function updateRoleWeights(db: ClusterDb, updates: readonly WeightInfo[]): boolean {
  const map: Record<string, number> = Object.fromEntries(roleWeights(db).map((w) => [w.role, w.weight]));
  for (const { role, weight } of updates) map[role] = weight;
  if (Object.keys(map).length > MAX_WEIGHTED_ROLES) return false;
  setMeta(db, ROLE_WEIGHTS_KEY, JSON.stringify(map));
  return true;
}

/** A framework's DRF identity with its role's weight, when its role carries one. */
export function weighted<F extends { name: string; role: string; weight: number }>(
  frameworks: readonly F[],
  weights: readonly WeightInfo[],
): { name: string; role: string; weight: number }[] {
  const byRole = new Map(weights.map((w) => [w.role, w.weight]));
  return frameworks.map(({ name, role, weight }) => ({ name, role, weight: byRole.get(role) ?? weight }));
}
