/**
 * Which agents can run a task at all, by the driver its launch needs. Every agent runs the exec
 * driver; the docker driver needs a Docker daemon, which an agent advertises as the `docker`
 * attribute while the daemon answers. A task that needs Docker waits, saying why, rather than
 * being launched on an agent that would fail it.
 */
import { DOCKER_ATTRIBUTE } from "../../../protocol/resources.ts";
import type { ConstraintCheck, FieldTable } from "./constraints.ts";

/** How an agent runs a task: a process tree (`exec`), or a Docker container (`docker`). */
export type TaskDriver = "exec" | "docker";

/** The reason counted for an agent that cannot take a task needing Docker. */
export const NO_DOCKER = "agent does not run Docker";

/**
 * The driver's requirement as a check on agents, like a constraint's: static within a plan (an
 * agent's attributes do not change while a plan is computed), so it only narrows the candidates.
 */
export function driverChecks(driver: TaskDriver | undefined, fields: FieldTable): ConstraintCheck[] {
  if (driver !== "docker") return [];
  const { ids } = fields.column(DOCKER_ATTRIBUTE);
  return [{ label: NO_DOCKER, admits: (agent) => (ids[agent] ?? -1) >= 0 }];
}
