import { z } from "zod";

/**
 * Schemas for the parts of a Marathon app definition (RAML `types/*.raml`): the app id, its
 * constraints, ports and strategies; the container is in `app-container.ts`, networking in
 * `app-network.ts`, health and readiness checks in `app-checks.ts`. `app-definition.ts`
 * assembles them into the whole app and adds the rules that span several fields.
 *
 * Invariant: every schema here is idempotent; its output parses back to itself. The stored app
 * is served by GET and may be sent back by PUT, so the output must stay valid input.
 */

/**
 * One PathId segment, as Marathon's `PathId.ID_PATH_SEGMENT_PATTERN`: dot-separated parts of
 * lowercase letters, digits and `-`, each starting and ending with a letter or digit.
 */
const SEGMENT = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;

/** A last segment Marathon refuses, because `/v2/apps/{id}/tasks` etc. would be ambiguous. */
const RESERVED_LAST_SEGMENTS = ["restart", "tasks", "versions"];

/**
 * Longest app id. Task ids (`<id with _>.instance-<uuid>._app.1`) must fit the agent protocol's
 * 512 characters, and Mesos-DNS names are built from the id: Marathon sets no limit, but an id
 * longer than this could never run or resolve.
 */
export const MAX_APP_ID_LENGTH = 400;
/** Longest '.'-separated part of a segment: a DNS label, as in `<part>.<group>.marathon.mesos`. */
const MAX_LABEL_LENGTH = 63;

/** Splits a raw id into its segments, or says what is wrong with it. */
function readAppId(raw: string): { segments: string[] } | { problem: string } {
  if (raw.length > MAX_APP_ID_LENGTH)
    return { problem: `is ${raw.length} characters long; at most ${MAX_APP_ID_LENGTH} (task ids and DNS names are built from it)` };
  // One trailing slash is tolerated (`/shop/web/`); anything else empty is an error, where
  // Marathon would silently drop empty segments and hide a typo.
  const trimmed = raw.endsWith("/") ? raw.slice(0, -1) : raw;
  const body = trimmed.startsWith("/") ? trimmed.slice(1) : trimmed;
  if (body === "") return { problem: "must name an app; '/' is the root group" };
  const segments = body.split("/");
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem !== undefined) return { problem };
  }
  const last = segments[segments.length - 1] ?? "";
  if (RESERVED_LAST_SEGMENTS.includes(last)) {
    return { problem: `must not end with '${last}': ${RESERVED_LAST_SEGMENTS.join(", ")} are reserved by the API` };
  }
  return { segments };
}

function segmentProblem(segment: string): string | undefined {
  if (segment === "") return "must not contain an empty segment ('//')";
  // Marathon resolves `.` and `..` against the enclosing group; an app posted on its own has
  // none worth resolving against, so a full path is asked for instead.
  if (segment === "." || segment === "..") return `must not contain '${segment}' segments; give the full path`;
  if (!SEGMENT.test(segment)) {
    return `segment '${segment}' is invalid: use lowercase letters, digits, '-' and '.', and start and end each '.'-separated part with a letter or digit`;
  }
  const long = segment.split(".").find((label) => label.length > MAX_LABEL_LENGTH);
  if (long !== undefined) return `segment '${segment}' has a part of ${long.length} characters; at most ${MAX_LABEL_LENGTH}, as a DNS label`;
  return undefined;
}

/**
 * Normalises an app id to its absolute form: `web` → `/web`, `/shop/web/` → `/shop/web`.
 * Throws an Error naming the problem if the id is not a valid Marathon PathId.
 */
export function normalizeAppId(raw: string): string {
  return "/" + appIdSegments(raw).join("/");
}

/**
 * Normalises a group id (Marathon PathId) to its absolute form: `` and `/` are the root group,
 * `prod/web/` is `/prod/web`. Throws an Error naming the problem. Unlike an app id, a group id
 * may end in `tasks` or `versions` (an app `/tasks/web` is in the group `/tasks`).
 */
export function normalizeGroupId(raw: string): string {
  const trimmed = raw.endsWith("/") ? raw.slice(0, -1) : raw;
  const body = trimmed.startsWith("/") ? trimmed.slice(1) : trimmed;
  if (body === "") return "/";
  for (const segment of body.split("/")) {
    const problem = segmentProblem(segment);
    if (problem !== undefined) throw new Error(`group id '${raw}' ${problem}`);
  }
  return "/" + body;
}

/**
 * Marathon's `PathId.canonicalPath(base)`: an absolute id stays as it is, a relative one is
 * read inside `base` (`web` in `/prod` is `/prod/web`), and `.` and `..` segments are resolved
 * (`../db` in `/prod/web` is `/prod/db`). The result is not validated; `normalizeAppId` or
 * `normalizeGroupId` does that. Throws when `..` climbs above the root.
 */
export function canonicalPath(raw: string, base: string): string {
  const joined = raw.startsWith("/") ? raw : `${base === "/" ? "" : base}/${raw}`;
  const out: string[] = [];
  const segments = joined.split("/").slice(1);
  segments.forEach((segment, i) => {
    if (segment === ".") return;
    if (segment === "..") {
      if (out.pop() === undefined) throw new Error(`id '${raw}' climbs above the root group`);
      return;
    }
    // Keep empty segments but a trailing one, so that `a//b` is still reported by the validator.
    if (segment !== "" || i < segments.length - 1) out.push(segment);
  });
  return "/" + out.join("/");
}

/** The segments of an app id, outermost group first: `/shop/web` → `["shop", "web"]`. Throws like `normalizeAppId`. */
export function appIdSegments(id: string): string[] {
  const read = readAppId(id);
  if ("problem" in read) throw new Error(`app id '${id}' ${read.problem}`);
  return read.segments;
}

/** Marathon's `PathId.safePath`, the prefix of its task ids: `/shop/web` → `shop_web`. */
export function marathonTaskIdPrefix(id: string): string {
  return appIdSegments(id).join("_");
}

/** Marathon's `PathId.toHostname`, used as the Mesos task name: `/shop/web` → `web.shop`. */
export function appHostname(id: string): string {
  return appIdSegments(id).reverse().join(".");
}

/** An app id (Marathon PathId), relative or absolute on input, absolute on output. */
export const AppId = z.string().transform((raw, ctx) => {
  const read = readAppId(raw);
  if ("problem" in read) {
    ctx.addIssue({ code: "custom", message: read.problem });
    return z.NEVER;
  }
  return "/" + read.segments.join("/");
});

/** Placement operators (`types/constraint.raml`). Marathon spells them in uppercase only. */
export const CONSTRAINT_OPERATORS = ["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"] as const;
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

/** A placement constraint as the scheduler reads it. */
export interface Constraint {
  /** `hostname`, `@region`, `@zone` or an agent attribute name. */
  field: string;
  operator: ConstraintOperator;
  value?: string;
}

/** A constraint in Marathon's wire form, `[field, OPERATOR, value?]`. */
export type ConstraintTuple = [string, ConstraintOperator] | [string, ConstraintOperator, string];

function isOperator(op: string): op is ConstraintOperator {
  return (CONSTRAINT_OPERATORS as readonly string[]).includes(op);
}

function isPositiveInt(value: string): boolean {
  return /^\d{1,10}$/.test(value) && Number(value) >= 1 && Number(value) <= 2 ** 31 - 1;
}

function regexProblem(value: string | undefined): string | undefined {
  if (value === undefined) return "needs a regular expression value";
  try {
    new RegExp(value);
    return undefined;
  } catch {
    return `'${value}' is not a valid regular expression`;
  }
}

/** What is wrong with the value of a constraint, given its operator (Marathon's SchedulingValidation). */
function constraintValueProblem(op: ConstraintOperator, value: string | undefined): string | undefined {
  switch (op) {
    case "UNIQUE":
      return value === undefined ? undefined : "takes no value";
    case "CLUSTER":
      // Without a value the first task pins the value the others must match.
      return value === "" ? "value must not be empty; omit it to pin the first task's value" : undefined;
    case "GROUP_BY":
      return value === undefined || isPositiveInt(value) ? undefined : `value '${value}' must be a positive integer`;
    case "MAX_PER":
      return value !== undefined && isPositiveInt(value) ? undefined : "needs a positive integer value";
    case "LIKE":
    case "UNLIKE":
      return regexProblem(value);
    case "IS":
      return value === undefined || value === "" ? "needs a value" : undefined;
  }
}

function readConstraint(c: string[]): ConstraintTuple | string {
  if (c.length < 2 || c.length > 3) return "must have 2 or 3 fields: [field, operator, value?]";
  const [field = "", op = "", value] = c;
  if (field === "") return "field name must not be empty";
  if (!isOperator(op)) return `unknown operator '${op}'; use one of ${CONSTRAINT_OPERATORS.join(", ")} (uppercase)`;
  const problem = constraintValueProblem(op, value);
  if (problem !== undefined) return `${op} ${problem}`;
  // Marathon accepts both spellings of the host name field; keep one so the scheduler needs one.
  const name = field === "@hostname" ? "hostname" : field;
  return value === undefined ? [name, op] : [name, op, value];
}

/**
 * `acceptedResourceRoles`: the agent roles an app's tasks may use. DCX agents offer theirs to
 * `*` (private) or `slave_public` (public, `--public`), so those are the roles there are; like
 * Marathon, the list may not be empty. Absent means `*`: private agents only.
 */
export const AcceptedResourceRoles = z
  .array(z.enum(["*", "slave_public"], { error: 'a role is "*" (private agents) or "slave_public" (public agents)' }))
  .min(1, { error: "must not be empty: leave it out for private agents only" });

/**
 * One constraint, `[field, OPERATOR, value?]`. LIKE/UNLIKE values are checked as JavaScript
 * regular expressions, which is what DCX matches with; Marathon compiled them as Java ones and
 * full-matched, so the scheduler must anchor them (`^(?:value)$`).
 */
export const AppConstraint = z.array(z.string()).transform((c, ctx): ConstraintTuple => {
  const read = readConstraint(c);
  if (typeof read === "string") {
    ctx.addIssue({ code: "custom", message: read });
    return z.NEVER;
  }
  return read;
});

/** A TCP/UDP port; 0 asks Marathon to choose one. */
export const Port = z.int().min(0).max(65535);

/** `strings.NetworkProtocol`; both spellings of the pair are accepted and stored as `udp,tcp`. */
export const NetworkProtocol = z.enum(["tcp", "udp", "udp,tcp", "tcp,udp"]).transform((p) => (p === "tcp,udp" ? "udp,tcp" : p));

/** `types/name.raml`: a DNS label, so the name can appear in SRV records. */
export const PortName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be lowercase letters, digits and '-', not starting or ending with '-'");

/** Names a record key's problem; zod's own message for a bad key does not say which rule failed. */
function keyError(message: string) {
  return { error: (issue: { code?: string }) => (issue.code === "invalid_key" ? message : undefined) };
}

/** `label.KVLabels`. */
export const Labels = z.record(z.string().min(1), z.string(), keyError("label names must not be empty"));

/** Environment values are text, or a reference to one of the app's `secrets`. */
export const Env = z.record(
  z
    .string()
    .min(1)
    .max(254)
    .regex(/^[^=\0]+$/),
  z.union([z.string(), z.strictObject({ secret: z.string().min(1) })], {
    error: 'must be a string or {"secret": "<name>"}',
  }),
  keyError("variable names must be 1 to 254 characters without '=' or NUL"),
);

/**
 * A path in the cluster's secret store (DC/OS's `/secrets/v1/secret/default/<path>`): segments
 * of letters, digits, `_`, `.` and `-`, joined by `/`, none empty or dot-only.
 */
export const SecretPath = z
  .string()
  .max(256)
  .regex(
    /^(?!\.{1,2}(\/|$))[A-Za-z0-9_.-]+(\/(?!\.{1,2}(\/|$))[A-Za-z0-9_.-]+)*$/,
    "must be segments of letters, digits, '_', '.' and '-' joined by '/', e.g. team/db-password",
  );

/** `secrets.raml`: the app's names for secrets of the store, which `env` values reference as `{"secret": "<name>"}`. */
export const Secrets = z.record(z.string().min(1).max(254), z.strictObject({ source: SecretPath }), keyError("secret names must be 1 to 254 characters"));

/** `network.PortDefinition`: a host port each instance reserves (host networking). */
export const PortDefinition = z.strictObject({
  port: Port.default(0),
  protocol: NetworkProtocol.default("tcp"),
  name: PortName.optional(),
  labels: Labels.optional(),
});
export type PortDefinition = z.output<typeof PortDefinition>;

/** One problem found by a rule, at a path relative to the schema it checks. */
export type Issue = { path: (string | number)[]; message: string };

/** One issue per entry whose `name` an earlier entry already uses. */
export function duplicateNames(entries: readonly { name?: string | undefined }[], at: string[]): Issue[] {
  const seen = new Map<string, number>();
  const issues: Issue[] = [];
  entries.forEach((entry, index) => {
    if (entry.name === undefined) return;
    const first = seen.get(entry.name);
    if (first === undefined) seen.set(entry.name, index);
    else issues.push({ path: [...at, index, "name"], message: `Port names must be unique: '${entry.name}' is also at index ${first}` });
  });
  return issues;
}

const Capacity = z.number().min(0).max(1);

/** `app.UpgradeStrategy`; 1/1 per `UpgradeStrategy.empty` (resident apps would get 0.5/0). */
export const UpgradeStrategy = z.strictObject({
  minimumHealthCapacity: Capacity.default(1),
  maximumOverCapacity: Capacity.default(1),
});

const UnreachableEnabled = z
  .strictObject({
    inactiveAfterSeconds: z.int().min(0).default(0),
    expungeAfterSeconds: z.int().min(0).default(0),
  })
  .superRefine((s, ctx) => {
    if (s.inactiveAfterSeconds > s.expungeAfterSeconds) {
      ctx.addIssue({
        code: "custom",
        path: ["inactiveAfterSeconds"],
        message: `must not exceed expungeAfterSeconds (${s.expungeAfterSeconds})`,
      });
    }
  });

/**
 * `unreachableStrategy.raml`. Defaults are 0/0, as Marathon's code has them
 * (`UnreachableStrategy.DefaultInactiveAfter/DefaultExpungeAfter`); its older RAML and
 * `configure-task-handling.md` say 300/600, which an explicit object can still ask for.
 */
export const UnreachableStrategy = z.union([z.literal("disabled"), UnreachableEnabled], {
  error: 'must be "disabled" or {inactiveAfterSeconds, expungeAfterSeconds}',
});

export const KillSelection = z.enum(["YOUNGEST_FIRST", "OLDEST_FIRST"]);
