import { z } from "zod";
import { fieldErrors, type FieldError } from "../../../../protocol/messages.ts";
import { parseCron } from "./cron.ts";

/**
 * The Metronome job spec (`v1/schema/jobspec.schema.json`, reference §2), validated with
 * Metronome's defaults filled in and reported as `[{path, errors}]`. Fields Metronome has but
 * DCX cannot honour (artifacts, UCR, secrets, networks, dependencies) are refused by name unless
 * empty, so a job never runs differently from what it says; their empty forms are accepted
 * because Metronome's own GET output carries them.
 */

/** Dot-separated names of lowercase letters, digits and inner dashes (`prod.backup-db`). */
const JOB_ID = /^([a-z0-9]+(-+[a-z0-9]+)*)(\.([a-z0-9]+(-+[a-z0-9]+)*))*$/;
/** Task ids embed the job id; this keeps them within the protocol's 512 characters. */
export const MAX_JOB_ID_LENGTH = 255;

export const JobId = z
  .string()
  .max(MAX_JOB_ID_LENGTH, `must be at most ${MAX_JOB_ID_LENGTH} characters`)
  .regex(JOB_ID, "must be dot-separated names of lowercase letters, digits and dashes, each starting and ending with a letter or digit (e.g. 'prod.backup')");

export const ScheduleId = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "must be lowercase letters, digits and dashes, starting and ending with a letter or digit");

const unsupported = (what: string) => `is not supported by DCX (${what}); leave it out or empty`;
const Empty = (what: string) => z.array(z.unknown()).max(0, unsupported(what));

const Constraint = z.strictObject({
  attribute: z.string().min(1),
  operator: z.enum(["IS", "EQ", "LIKE", "UNLIKE"]),
  value: z.string().optional(),
});

const Volume = z.strictObject({
  containerPath: z.string().startsWith("/", "must be an absolute path"),
  hostPath: z.string().startsWith("/", "must be an absolute path"),
  mode: z.enum(["RO", "RW"]).default("RW"),
});

const Docker = z.strictObject({
  image: z.string().min(1),
  forcePullImage: z.boolean().default(false),
  privileged: z.boolean().default(false),
  parameters: z.array(z.strictObject({ key: z.string().min(1), value: z.string() })).default([]),
});

const Restart = z.strictObject({
  policy: z.enum(["NEVER", "ON_FAILURE"]).default("NEVER"),
  /** How long after the run's start a failed task is still relaunched; absent means forever. */
  activeDeadlineSeconds: z.int().min(0).optional(),
});

/** An environment value: a string; Metronome's `{secret}` references are named as unsupported. */
const EnvValue = z.unknown().transform((value, ctx) => {
  if (typeof value === "string") return value;
  const secret = typeof value === "object" && value !== null && "secret" in value;
  ctx.addIssue({ code: "custom", message: secret ? unsupported("secrets") : "must be a string" });
  return z.NEVER;
});

export const RunSpec = z.strictObject({
  cpus: z.number().min(0.01).default(1),
  mem: z.number().min(32).default(128),
  disk: z.number().min(0).default(0),
  gpus: z.int().min(0).default(0),
  cmd: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  user: z.string().min(1).optional(),
  env: z.record(z.string(), EnvValue).default({}),
  docker: Docker.optional(),
  ucr: z
    .unknown()
    .refine(() => false, unsupported("UCR images; use run.docker"))
    .optional(),
  placement: z.strictObject({ constraints: z.array(Constraint).default([]) }).prefault({}),
  volumes: z.array(Volume).default([]),
  /** Seconds: the longest backoff between relaunches of a failed task (Marathon's maxLaunchDelaySeconds, as Metronome passes it on). */
  maxLaunchDelay: z.int().min(1).default(3600),
  restart: Restart.prefault({}),
  taskKillGracePeriodSeconds: z.number().min(0).optional(),
  artifacts: Empty("fetching artifacts").default([]),
  networks: Empty("job networks; tasks use the host network").optional(),
  secrets: z
    .record(z.string(), z.unknown())
    .refine((s) => Object.keys(s).length === 0, unsupported("secrets"))
    .optional(),
});
export type RunSpec = z.output<typeof RunSpec>;

export const ScheduleSpec = z
  .strictObject({
    id: ScheduleId,
    cron: z.string().min(1),
    timezone: z.string().min(1).default("UTC"),
    startingDeadlineSeconds: z.int().min(1).default(900),
    concurrencyPolicy: z.enum(["ALLOW", "FORBID", "REPLACE"]).default("ALLOW"),
    enabled: z.boolean().default(true),
    /** Computed and shown on GET; a client may send it back. */
    nextRunAt: z.unknown().optional(),
  })
  .superRefine((s, ctx) => {
    const parsed = parseCron(s.cron, s.timezone);
    if (!parsed.ok) ctx.addIssue({ code: "custom", path: [parsed.field], message: parsed.message });
  })
  .transform(({ nextRunAt: _shown, ...spec }) => spec);
export type ScheduleSpec = z.output<typeof ScheduleSpec>;

/** Metronome allows one schedule per job. */
export const MAX_SCHEDULES = 1;

const JobFields = z.strictObject({
  id: JobId,
  description: z.string().optional(),
  labels: z.record(z.string(), z.string()).default({}),
  run: RunSpec,
  schedules: z.array(ScheduleSpec).max(MAX_SCHEDULES, `a job has at most ${MAX_SCHEDULES} schedule, as in Metronome`).optional(),
  dependencies: Empty("job dependencies").optional(),
  // Embedded on GET with ?embed=; a client may send them back.
  activeRuns: z.unknown().optional(),
  history: z.unknown().optional(),
  historySummary: z.unknown().optional(),
});

/** Rules across the run's fields, once each field is valid on its own. */
function runIssues(run: RunSpec): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const hasArgs = (run.args?.length ?? 0) > 0;
  if (run.cmd !== undefined && hasArgs) issues.push({ path: ["run", "args"], message: "may not be combined with cmd" });
  if (run.cmd === undefined && !hasArgs && run.docker === undefined) {
    issues.push({ path: ["run", "cmd"], message: "is required (or args) unless run.docker.image names an image to run" });
  }
  if (run.volumes.length > 0 && run.docker === undefined)
    issues.push({ path: ["run", "volumes"], message: "need run.docker: only a container has volumes to mount" });
  run.placement.constraints.forEach((c, i) => {
    const problem = constraintProblem(c);
    if (problem) issues.push({ path: ["run", "placement", "constraints", i, "value"], message: problem });
  });
  return issues;
}

function constraintProblem(c: z.output<typeof Constraint>): string | undefined {
  if (c.value === undefined || c.value === "") return `is required by ${c.operator}`;
  if (c.operator !== "LIKE" && c.operator !== "UNLIKE") return undefined;
  try {
    new RegExp(c.value);
    return undefined;
  } catch {
    return `'${c.value}' is not a valid regular expression`;
  }
}

/** A job body as `POST /v1/jobs` and `PUT /v1/jobs/{id}` validate it (the OpenAPI document shows it too). */
export const JobDefinition = JobFields.superRefine((job, ctx) => {
  for (const issue of runIssues(job.run)) ctx.addIssue({ code: "custom", ...issue });
}).transform(({ schedules, id, description, labels, run }) => ({
  spec: { id, ...(description !== undefined ? { description } : {}), labels, run } as JobSpec,
  schedules,
}));

/** A job as stored and served: Metronome's `JobSpec` without its schedules. */
export interface JobSpec {
  id: string;
  description?: string;
  labels: Record<string, string>;
  run: RunSpec;
}

export type JobParseResult = { ok: true; spec: JobSpec; schedules: ScheduleSpec[] | undefined } | { ok: false; details: FieldError[] };

/** Validates a decoded JSON body as a job (with optional embedded schedules). Never throws. */
export function parseJob(json: unknown): JobParseResult {
  const parsed = JobDefinition.safeParse(json);
  return parsed.success ? { ok: true, ...parsed.data } : { ok: false, details: fieldErrors(parsed.error) };
}

export type ScheduleParseResult = { ok: true; schedule: ScheduleSpec } | { ok: false; details: FieldError[] };

/** Validates a decoded JSON body as one schedule. Never throws. */
export function parseSchedule(json: unknown): ScheduleParseResult {
  const parsed = ScheduleSpec.safeParse(json);
  return parsed.success ? { ok: true, schedule: parsed.data } : { ok: false, details: fieldErrors(parsed.error) };
}
