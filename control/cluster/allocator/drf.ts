/**
 * Dominant Resource Fairness across frameworks, shaped like Mesos' HierarchicalDRF allocator:
 * first the role with the lowest weighted dominant share, then, inside it, the framework with the
 * lowest weighted dominant share.
 */

/** The scalar resources DRF shares out. Ports are not shared out (Mesos does not either). */
export interface Scalars {
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
}

export const SCALAR_NAMES = ["cpus", "mem", "disk", "gpus"] as const;

/** A framework as the allocator sees it. `weight` defaults to 1. */
export interface FrameworkInfo {
  name: string;
  role: string;
  weight: number;
}

/** The role and weight of a framework the snapshot does not describe. */
export const DEFAULT_ROLE = "*";

/** max over resources of allocated / total; resources the cluster has none of are skipped. */
export function dominantShare(allocated: Scalars, total: Scalars): number {
  let share = 0;
  for (const name of SCALAR_NAMES) {
    if (total[name] > 0) share = Math.max(share, allocated[name] / total[name]);
  }
  return share;
}

interface Client {
  name: string;
  weight: number;
  allocated: Scalars;
}

interface Framework extends Client {
  role: Client;
}

function zero(): Scalars {
  return { cpus: 0, mem: 0, disk: 0, gpus: 0 };
}

/** A positive, finite weight; anything else means the default 1 (Mesos rejects such weights). */
function weightOf(weight: number | undefined): number {
  return weight !== undefined && Number.isFinite(weight) && weight > 0 ? weight : 1;
}

/**
 * Tracks what each framework and role holds and says whose turn it is. A role's weight is the
 * largest weight given by its frameworks (weights are a role property in Mesos; FrameworkInfo
 * carries it per framework for convenience). Frameworks sharing a role are then ordered by their
 * own weighted share, so weights still count between two frameworks of one role.
 */
export class FairShare {
  private readonly roles = new Map<string, Client>();
  private readonly frameworks = new Map<string, Framework>();
  private readonly total: Scalars;

  constructor(total: Scalars, frameworks: readonly FrameworkInfo[]) {
    this.total = total;
    for (const info of frameworks) this.framework(info.name, info);
  }

  /** Adds `resources` to what `framework` (and so its role) holds. */
  charge(framework: string, resources: Scalars): void {
    const fw = this.framework(framework);
    for (const name of SCALAR_NAMES) {
      fw.allocated[name] += resources[name];
      fw.role.allocated[name] += resources[name];
    }
  }

  /** The framework's dominant share divided by its weight. */
  share(framework: string): number {
    const fw = this.framework(framework);
    return dominantShare(fw.allocated, this.total) / fw.weight;
  }

  /** Whose turn it is among `candidates` (framework names with work left); ties go by name. */
  pick(candidates: readonly string[]): string | undefined {
    const byRole = new Map<Client, Framework[]>();
    for (const name of candidates) {
      const fw = this.framework(name);
      const list = byRole.get(fw.role);
      if (list) list.push(fw);
      else byRole.set(fw.role, [fw]);
    }
    const role = this.lowest([...byRole.keys()]);
    return role ? this.lowest(byRole.get(role) ?? [])?.name : undefined;
  }

  private lowest<T extends Client>(clients: readonly T[]): T | undefined {
    let best: T | undefined;
    let bestShare = Number.POSITIVE_INFINITY;
    for (const client of clients) {
      const share = dominantShare(client.allocated, this.total) / client.weight;
      if (share < bestShare || (share === bestShare && best !== undefined && client.name < best.name)) {
        best = client;
        bestShare = share;
      }
    }
    return best;
  }

  private framework(name: string, info?: FrameworkInfo): Framework {
    let fw = this.frameworks.get(name);
    if (fw) return fw;
    const roleName = info?.role ?? DEFAULT_ROLE;
    const weight = weightOf(info?.weight);
    let role = this.roles.get(roleName);
    if (!role) {
      role = { name: roleName, weight, allocated: zero() };
      this.roles.set(roleName, role);
    }
    role.weight = Math.max(role.weight, weight);
    fw = { name, weight, allocated: zero(), role };
    this.frameworks.set(name, fw);
    return fw;
  }
}
