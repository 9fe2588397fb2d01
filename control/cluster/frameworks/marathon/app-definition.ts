import { z } from "zod";
import { fieldErrors, type FieldError } from "../../../../protocol/messages.ts";
import { HealthChecks, ReadinessChecks, checkPortIssues } from "./app-checks.ts";
import { Container } from "./app-container.ts";
import {
  AcceptedResourceRoles,
  AppConstraint,
  AppId,
  Env,
  Secrets,
  KillSelection,
  Labels,
  Port,
  PortDefinition,
  UnreachableStrategy,
  UpgradeStrategy,
  canonicalPath,
  duplicateNames,
  normalizeGroupId,
  type Constraint,
  type Issue,
} from "./app-fields.ts";
import { Network, appNetwork, effectivePortMappings, networkIssues, type Networked } from "./app-network.ts";
import { vipLabelIssues } from "./app-vips.ts";
import { parentGroup } from "./group-tree.ts";

export { HEALTH_CHECK_PROTOCOLS, type HealthCheck, type ReadinessCheck } from "./app-checks.ts";
export {
  CONSTRAINT_OPERATORS,
  appHostname,
  appIdSegments,
  canonicalPath,
  marathonTaskIdPrefix,
  normalizeAppId,
  normalizeGroupId,
  type Constraint,
  type ConstraintOperator,
  type ConstraintTuple,
  type PortDefinition,
} from "./app-fields.ts";
export type { Container } from "./app-container.ts";
export { appNetwork } from "./app-network.ts";

/**
 * The Marathon app definition (`types/app.raml`, reference §1.1–1.4): validated as Marathon
 * does, with its defaults filled in, and reported as Marathon's 422 `[{path, errors}]`.
 *
 * Fields DCX does not model (`fetch`, ...) are kept as
 * given, as Marathon keeps them; nested objects are strict, so a typo inside a known field is
 * an error rather than a silently ignored setting.
 */

/** Fields Marathon computes and shows on GET. A client may send them back; they are dropped. */
export const READ_ONLY_FIELDS = [
  "version",
  "versionInfo",
  "tasksRunning",
  "tasksStaged",
  "tasksHealthy",
  "tasksUnhealthy",
  "deployments",
  "tasks",
  "lastTaskFailure",
  "taskStats",
  "readinessCheckResults",
] as const;

/** Each known field without a default, so that a PATCH body fills in nothing. */
const appFields = {
  id: AppId,
  cmd: z.string().min(1),
  args: z.array(z.string()),
  container: Container,
  networks: z.array(Network),
  cpus: z.number().min(0.001),
  mem: z.number().min(0),
  disk: z.number().min(0),
  gpus: z.int32().min(0),
  instances: z.int32().min(0),
  env: Env,
  secrets: Secrets,
  labels: Labels,
  portDefinitions: z.array(PortDefinition),
  ports: z.array(Port),
  requirePorts: z.boolean(),
  constraints: z.array(AppConstraint),
  acceptedResourceRoles: AcceptedResourceRoles,
  healthChecks: HealthChecks,
  readinessChecks: ReadinessChecks,
  backoffSeconds: z.int32().min(0),
  backoffFactor: z.number().min(1),
  maxLaunchDelaySeconds: z.int32().min(0),
  killSelection: KillSelection,
  taskKillGracePeriodSeconds: z.int32().min(0),
  unreachableStrategy: UnreachableStrategy,
  upgradeStrategy: UpgradeStrategy,
  user: z.string().min(1),
  dependencies: z.array(z.string()),
};

/** The same fields with Marathon's defaults (zod copies a default value for each parse). */
const definitionShape = {
  ...appFields,
  cmd: appFields.cmd.optional(),
  args: appFields.args.optional(),
  container: appFields.container.optional(),
  networks: appFields.networks.optional(),
  cpus: appFields.cpus.default(1),
  mem: appFields.mem.default(128),
  disk: appFields.disk.default(0),
  gpus: appFields.gpus.default(0),
  instances: appFields.instances.default(1),
  env: appFields.env.default({}),
  secrets: appFields.secrets.optional(),
  labels: appFields.labels.default({}),
  // These two depend on each other and on the container; see effectivePortDefinitions.
  portDefinitions: appFields.portDefinitions.optional(),
  ports: appFields.ports.optional(),
  requirePorts: appFields.requirePorts.default(false),
  constraints: appFields.constraints.default([]),
  acceptedResourceRoles: appFields.acceptedResourceRoles.optional(),
  healthChecks: appFields.healthChecks.default([]),
  readinessChecks: appFields.readinessChecks.default([]),
  backoffSeconds: appFields.backoffSeconds.default(1),
  backoffFactor: appFields.backoffFactor.default(1.15),
  // The 2017 RAML said 3600; the current RAML and docs/backoff.md say 5 minutes.
  maxLaunchDelaySeconds: appFields.maxLaunchDelaySeconds.default(300),
  killSelection: appFields.killSelection.default("YOUNGEST_FIRST"),
  taskKillGracePeriodSeconds: appFields.taskKillGracePeriodSeconds.optional(),
  unreachableStrategy: appFields.unreachableStrategy.default({ inactiveAfterSeconds: 0, expungeAfterSeconds: 0 }),
  upgradeStrategy: appFields.upgradeStrategy.prefault({}),
  user: appFields.user.optional(),
  dependencies: appFields.dependencies.optional(),
};

/** Marathon keeps fields it does not know, so the top level is loose. */
const DefinitionFields = z.looseObject(definitionShape);
type Parsed = z.output<typeof DefinitionFields>;
type Known = z.output<z.ZodObject<typeof definitionShape>>;

/**
 * A validated app with every default applied. `ports` is folded into `portDefinitions`, which
 * is always present; fields DCX does not model stay as given.
 */
export type App = Omit<Known, "ports" | "portDefinitions"> & {
  portDefinitions: PortDefinition[];
  [extra: string]: unknown;
};

/** Whether the app's tasks run on Docker's bridge, which takes ports from port mappings instead of definitions. */
function bridged(app: Networked): boolean {
  return appNetwork(app) === "BRIDGE";
}

/** The port definitions an app ends up with; Marathon gives one port by default, `[]` means none. */
function effectivePortDefinitions(app: Parsed): PortDefinition[] {
  if (app.portDefinitions !== undefined) return app.portDefinitions;
  if (app.ports !== undefined) return app.ports.map((port) => ({ port, protocol: "tcp" }));
  return bridged(app) ? [] : [{ port: 0, protocol: "tcp" }];
}

function commandIssues(app: Parsed): Issue[] {
  // Marathon treats an empty args array as absent.
  const hasArgs = (app.args?.length ?? 0) > 0;
  if (app.cmd !== undefined && hasArgs) return [{ path: ["cmd"], message: "may not be combined with args" }];
  if (app.cmd === undefined && !hasArgs && app.container?.docker === undefined) {
    return [{ path: ["cmd"], message: "is required (or args) unless container.docker.image names an image to run" }];
  }
  return [];
}

function portsConflictIssues(app: Parsed): Issue[] {
  if (app.ports === undefined || app.portDefinitions === undefined) return [];
  // Marathon 1.x GET responses carry both; equal lists must round-trip.
  const same = app.ports.join() === app.portDefinitions.map((d) => d.port).join();
  return same ? [] : [{ path: ["ports"], message: "may not be combined with portDefinitions; ports is deprecated, use portDefinitions" }];
}

function portDefinitionIssues(app: Parsed): Issue[] {
  const field = app.portDefinitions !== undefined ? "portDefinitions" : app.ports !== undefined ? "ports" : undefined;
  if (field === undefined) {
    const defaulted = app.requirePorts && !bridged(app);
    return defaulted ? [{ path: ["requirePorts"], message: "needs portDefinitions with nonzero ports; the default port is 0" }] : [];
  }
  const definitions = effectivePortDefinitions(app);
  const at = (i: number) => (field === "ports" ? [field, i] : [field, i, "port"]);
  const issues: Issue[] = [];
  if (definitions.length > 0 && bridged(app)) {
    issues.push({ path: [field], message: "must be empty with bridge networking, which takes its ports from container.portMappings" });
  }
  const seen = new Map<number, number>();
  definitions.forEach((d, i) => {
    if (d.port === 0) {
      if (app.requirePorts) issues.push({ path: at(i), message: "must be nonzero when requirePorts is true" });
      return;
    }
    const first = seen.get(d.port);
    if (first === undefined) seen.set(d.port, i);
    else issues.push({ path: at(i), message: `Ports must be unique: ${d.port} is also at index ${first}` });
  });
  return [...issues, ...duplicateNames(definitions, [field])];
}

function backoffIssues(app: Parsed): Issue[] {
  if (app.maxLaunchDelaySeconds >= app.backoffSeconds) return [];
  return [{ path: ["maxLaunchDelaySeconds"], message: `must be at least backoffSeconds (${app.backoffSeconds})` }];
}

/** The ports a check may address: port mappings on a bridge, port definitions otherwise. */
function checkIssues(app: Parsed): Issue[] {
  const declared: { name?: string | undefined }[] = bridged(app) ? (effectivePortMappings(app) ?? []) : effectivePortDefinitions(app);
  return checkPortIssues(app, { count: declared.length, names: declared.map((p) => p.name) });
}

/** Each dependency must read as an app or group id once resolved against the app's group. */
function dependencyIssues(app: Parsed): Issue[] {
  return (app.dependencies ?? []).flatMap((raw, i) => {
    try {
      normalizeGroupId(canonicalPath(raw, parentGroup(app.id)));
      return [];
    } catch (err) {
      return [{ path: ["dependencies", i], message: err instanceof Error ? err.message : String(err) }];
    }
  });
}

/** Marathon's rule: an env value `{"secret": name}` names an entry of the app's `secrets`. */
function secretReferenceIssues(app: Parsed): Issue[] {
  return Object.entries(app.env).flatMap(([key, value]) =>
    typeof value === "string" || app.secrets?.[value.secret] !== undefined
      ? []
      : [
          {
            path: ["env", key],
            message: `references an undefined secret named '${value.secret}': declare it in secrets ({"${value.secret}": {"source": "<path>"}})`,
          },
        ],
  );
}

/** `VIP_n` port labels (Minuteman's): readable, on TCP ports, one port per VIP. */
function vipIssues(app: Parsed): Issue[] {
  return vipLabelIssues({ ...app, portDefinitions: effectivePortDefinitions(app) }, effectivePortMappings(app));
}

/** Rules that span several fields; each runs once every field is valid on its own. */
const APP_RULES = [
  commandIssues,
  networkIssues,
  portsConflictIssues,
  portDefinitionIssues,
  backoffIssues,
  checkIssues,
  dependencyIssues,
  vipIssues,
  secretReferenceIssues,
];

function withoutReadOnly<T extends Record<string, unknown>>(fields: T): T {
  const copy: Record<string, unknown> = { ...fields };
  for (const field of READ_ONLY_FIELDS) delete copy[field];
  return copy as T;
}

function toApp(app: Parsed): App {
  const out: App = { ...withoutReadOnly(app), portDefinitions: effectivePortDefinitions(app) };
  const mappings = effectivePortMappings(app);
  if (out.container !== undefined && mappings !== undefined) out.container = { ...out.container, portMappings: mappings };
  delete out["ports"];
  if (out.args?.length === 0) delete out.args;
  // Marathon keeps dependencies absolute, read against the app's group; duplicates collapse.
  if (out.dependencies !== undefined) {
    out.dependencies = [...new Set(out.dependencies.map((d) => normalizeGroupId(canonicalPath(d, parentGroup(app.id)))))];
  }
  return out;
}

/**
 * The app definition schema for POST and PUT bodies. Its output is an `App`, and an `App`
 * parses back to itself, so GET → edit → PUT round-trips.
 */
export const AppDefinition = DefinitionFields.superRefine(
  (app, ctx) => {
    for (const rule of APP_RULES) for (const issue of rule(app)) ctx.addIssue({ code: "custom", ...issue });
  },
  // Field refinements (the container's, an image's) do not abort parsing; the rules read those fields.
  { when: (payload) => payload.issues.length === 0 },
).transform(toApp);

export type AppParseResult = { ok: true; app: App } | { ok: false; details: FieldError[] };

/** Validates a decoded JSON body as an app definition. Never throws; `details` feed `validationError`. */
export function parseAppDefinition(json: unknown): AppParseResult {
  const parsed = AppDefinition.safeParse(json);
  return parsed.success ? { ok: true, app: parsed.data } : { ok: false, details: fieldErrors(parsed.error) };
}

/**
 * A PATCH body: every known field optional and checked on its own, no defaults filled in,
 * read-only fields dropped. Rules across fields apply to the merged app (`mergeAppPatch`).
 */
export const AppPatch = z.looseObject(appFields).partial().transform(withoutReadOnly);
export type AppPatch = z.output<typeof AppPatch>;

/** The stored app without what a patch replaces implicitly, so old and new alternatives are not combined. */
function patchBase(current: App, changes: AppPatch): Record<string, unknown> {
  const base: Record<string, unknown> = { ...current };
  if (changes.cmd !== undefined) delete base["args"];
  if ((changes.args?.length ?? 0) > 0) delete base["cmd"];
  // Switching between host and bridge networking resets the old style's ports to the new style's defaults.
  const next = { networks: changes.networks ?? current.networks, container: changes.container ?? current.container };
  const restyled = bridged(next) !== bridged(current);
  if (changes.portDefinitions === undefined && (changes.ports !== undefined || restyled)) delete base["portDefinitions"];
  if (restyled && changes.container === undefined && current.container !== undefined) {
    const { portMappings: _reset, ...container } = current.container;
    base["container"] = container;
  }
  return base;
}

/**
 * Applies a PATCH body to a stored app, as Marathon's partial update does: each given field
 * replaces the stored one whole, then the result is validated as a full definition.
 */
export function mergeAppPatch(current: App, patch: unknown): AppParseResult {
  const parsed = AppPatch.safeParse(patch);
  if (!parsed.success) return { ok: false, details: fieldErrors(parsed.error) };
  const changes = parsed.data;
  if (changes.id !== undefined && changes.id !== current.id) {
    return { ok: false, details: [{ path: "/id", errors: [`cannot change an app's id (${current.id})`] }] };
  }
  return parseAppDefinition({ ...patchBase(current, changes), ...changes });
}

/** What one instance of an app reserves on an agent. */
/** The app's constraints in the shape the scheduler reads. */
export function appConstraints(app: App): Constraint[] {
  return app.constraints.map(([field, operator, value]) => (value === undefined ? { field, operator } : { field, operator, value }));
}
