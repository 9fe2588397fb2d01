/**
 * Which agents a task may use, by role, as Mesos and Marathon decide it: a private agent offers
 * its resources to the role `*`, a public agent (started with `--public`) to `slave_public`
 * alone. A request names the roles it accepts (Marathon's `acceptedResourceRoles`); none named
 * means `*` only, DC/OS's default, so nothing lands on a public agent unless it asks to.
 */
import type { ConstraintCheck } from "./constraints.ts";

/** The role of an agent that names none: private. */
export const DEFAULT_ROLE = "*";

/** The reason counted for an agent whose role the request does not accept (Marathon: UnfulfilledRole). */
export const ROLE_NOT_ACCEPTED = "agent role not in acceptedResourceRoles";

/**
 * The accepted roles as a check on agents: static within a plan (an agent's role is fixed
 * at registration), so it only narrows the candidates, like a driver's requirement.
 */
export function roleChecks(accepted: readonly string[] | undefined, roles: readonly (string | undefined)[]): ConstraintCheck[] {
  const allowed = new Set(accepted === undefined || accepted.length === 0 ? [DEFAULT_ROLE] : accepted);
  return [{ label: ROLE_NOT_ACCEPTED, admits: (agent) => allowed.has(roles[agent] ?? DEFAULT_ROLE) }];
}
