import type { AuditName, Actor } from "./audit.ts";
import type { Cluster } from "./cluster.ts";

type Args<K extends keyof Cluster> = Cluster[K] extends (...args: infer A) => unknown ? A : never;

/** The Cluster object's commands that change it, each audited when run through `act`. */
export const AUDITED_COMMANDS = [
  "marathonCreate",
  "marathonReplace",
  "marathonPatch",
  "marathonDelete",
  "marathonRestart",
  "marathonKill",
  "marathonCancelDeployment",
  "marathonResetDelay",
  "marathonDeleteGroup",
  "marathonCreateGroup",
  "marathonUpdateGroup",
  "marathonScaleGroup",
  "marathonUpdateApps",
  "jobCreate",
  "jobReplace",
  "jobDelete",
  "jobStartRun",
  "jobStopRun",
  "jobScheduleCreate",
  "jobScheduleReplace",
  "jobScheduleDelete",
  "jobClockAdvance",
  "setDnsSettings",
  "removeAgent",
  "packageRepositoryAdd",
  "packageRepositoryDelete",
  "teardownFramework",
  "updateRoleWeights",
  "secretPut",
  "secretDelete",
] as const satisfies readonly (keyof ClusterCommands & keyof Cluster)[];
export type CommandName = (typeof AUDITED_COMMANDS)[number];

export const isCommandName = (name: string): name is CommandName => (AUDITED_COMMANDS as readonly string[]).includes(name);

/**
 * The Cluster object's commands, acting for one user (`cluster.act(actor, command, args)` over
 * RPC). Each names its change for the audit log and then runs the object's own command, whose
 * transaction writes the row.
 */
export class ClusterCommands {
  constructor(
    private readonly cluster: Cluster,
    private readonly actor: Actor,
  ) {}

  private as<T>(action: string, target: string | null, call: () => T, detail?: Record<string, unknown>): T {
    const name: AuditName = { action, target, ...(detail ? { detail } : {}) };
    return this.cluster.auditTrail.run(this.actor, name, call);
  }

  marathonCreate(...a: Args<"marathonCreate">) {
    return this.as("app.create", a[0].id, () => this.cluster.marathonCreate(...a));
  }
  marathonReplace(...a: Args<"marathonReplace">) {
    return this.as("app.update", a[0].id, () => this.cluster.marathonReplace(...a), { force: a[1] });
  }
  marathonPatch(...a: Args<"marathonPatch">) {
    return this.as("app.update", a[0], () => this.cluster.marathonPatch(...a), { fields: Object.keys(a[1]).slice(0, 50), force: a[2] });
  }
  marathonDelete(...a: Args<"marathonDelete">) {
    return this.as("app.delete", a[0], () => this.cluster.marathonDelete(...a), { force: a[1] });
  }
  marathonRestart(...a: Args<"marathonRestart">) {
    return this.as("app.restart", a[0], () => this.cluster.marathonRestart(...a), { force: a[1] });
  }
  marathonKill(...a: Args<"marathonKill">) {
    return this.as("task.kill", a[2] ?? null, () => this.cluster.marathonKill(...a), { tasks: a[0].slice(0, 50), scale: a[1] });
  }
  marathonCancelDeployment(...a: Args<"marathonCancelDeployment">) {
    return this.as("deployment.cancel", a[0], () => this.cluster.marathonCancelDeployment(...a), { force: a[1] });
  }
  marathonResetDelay(...a: Args<"marathonResetDelay">) {
    return this.as("app.reset-delay", a[0], () => this.cluster.marathonResetDelay(...a));
  }
  marathonDeleteGroup(...a: Args<"marathonDeleteGroup">) {
    return this.as("group.delete", a[0], () => this.cluster.marathonDeleteGroup(...a), { force: a[1] });
  }
  marathonCreateGroup(...a: Args<"marathonCreateGroup">) {
    return this.as("group.create", a[0].id, () => this.cluster.marathonCreateGroup(...a));
  }
  marathonUpdateGroup(...a: Args<"marathonUpdateGroup">) {
    return this.as("group.update", a[0].id, () => this.cluster.marathonUpdateGroup(...a), { force: a[1] });
  }
  marathonScaleGroup(...a: Args<"marathonScaleGroup">) {
    return this.as("group.scale", a[0], () => this.cluster.marathonScaleGroup(...a), { factor: a[1], force: a[2] });
  }
  marathonUpdateApps(...a: Args<"marathonUpdateApps">) {
    const ids = a[0].map((b) => String(b.id ?? "")).slice(0, 50);
    return this.as("app.update", ids.join(","), () => this.cluster.marathonUpdateApps(...a), { apps: ids, partial: a[1], force: a[2] });
  }

  jobCreate(...a: Args<"jobCreate">) {
    return this.as("job.create", a[0].id, () => this.cluster.jobCreate(...a));
  }
  jobReplace(...a: Args<"jobReplace">) {
    return this.as("job.update", a[0].id, () => this.cluster.jobReplace(...a));
  }
  jobDelete(...a: Args<"jobDelete">) {
    return this.as("job.delete", a[0], () => this.cluster.jobDelete(...a), { stopCurrentJobRuns: a[1] });
  }
  jobStartRun(...a: Args<"jobStartRun">) {
    return this.as("job.run", a[0], () => this.cluster.jobStartRun(...a));
  }
  jobStopRun(...a: Args<"jobStopRun">) {
    return this.as("job.run-stop", a[0], () => this.cluster.jobStopRun(...a), { run: a[1] });
  }
  jobScheduleCreate(...a: Args<"jobScheduleCreate">) {
    return this.as("job.schedule-create", a[0], () => this.cluster.jobScheduleCreate(...a), { schedule: a[1].id });
  }
  jobScheduleReplace(...a: Args<"jobScheduleReplace">) {
    return this.as("job.schedule-update", a[0], () => this.cluster.jobScheduleReplace(...a), { schedule: a[1].id });
  }
  jobScheduleDelete(...a: Args<"jobScheduleDelete">) {
    return this.as("job.schedule-delete", a[0], () => this.cluster.jobScheduleDelete(...a), { schedule: a[1] });
  }
  jobClockAdvance(...a: Args<"jobClockAdvance">) {
    return this.as("debug.clock-advance", null, () => this.cluster.jobClockAdvance(...a), { ms: a[0] });
  }

  updateRoleWeights(...a: Args<"updateRoleWeights">) {
    return this.as("weights.update", null, () => this.cluster.updateRoleWeights(...a), { weights: a[0].slice(0, 50) });
  }
  teardownFramework(...a: Args<"teardownFramework">) {
    return this.as("framework.teardown", a[0], () => this.cluster.teardownFramework(...a));
  }
  packageRepositoryAdd(...a: Args<"packageRepositoryAdd">) {
    return this.as("package-repository.add", a[0].name, () => this.cluster.packageRepositoryAdd(...a), { uri: a[0].uri, packages: a[1].length });
  }
  secretPut(...a: Args<"secretPut">) {
    // The audit row names the path, never the value.
    return this.as(`secret.${a[2]}`, a[0], () => this.cluster.secretPut(...a));
  }
  secretDelete(...a: Args<"secretDelete">) {
    return this.as("secret.delete", a[0], () => this.cluster.secretDelete(...a));
  }
  packageRepositoryDelete(...a: Args<"packageRepositoryDelete">) {
    return this.as("package-repository.delete", a[0].name ?? a[0].uri ?? null, () => this.cluster.packageRepositoryDelete(...a));
  }

  setDnsSettings(...a: Args<"setDnsSettings">) {
    return this.as("settings.dns", null, () => this.cluster.setDnsSettings(...a), { ...a[0] });
  }
  removeAgent(...a: Args<"removeAgent">) {
    return this.as("agent.remove", a[0], () => this.cluster.removeAgent(...a));
  }
}
