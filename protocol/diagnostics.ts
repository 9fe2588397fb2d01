import { z } from "zod";

/**
 * Diagnostics frames, as DC/OS's diagnostics service gives them: each agent checks the health of
 * its own parts and reports the results (`diagnostics`) when it registers and whenever a check's
 * status changes (and at least every DIAGNOSTICS_REFRESH_MS, so values like free disk stay fresh
 * without a frame per minute per agent waking the master). For a diagnostics bundle the master
 * asks each connected agent (`bundle`), which answers once (`bundleData`) with its checks and its
 * own recent log lines.
 */

/** How often an agent re-runs its checks; a changed status is reported at the next run. */
export const DIAGNOSTICS_CHECK_MS = 60_000;
/** An agent reports at least this often even when nothing changed. */
export const DIAGNOSTICS_REFRESH_MS = 10 * 60_000;
/** Most bytes of recent agent log lines in one `bundleData` frame (well under the frame limit). */
export const MAX_BUNDLE_LOG_BYTES = 512 * 1024;

/** `healthy` and `unhealthy` as DC/OS's units report 0 and 1; `disabled`: the part is not configured. */
export const CheckStatus = z.enum(["healthy", "unhealthy", "disabled"]);
export type CheckStatus = z.infer<typeof CheckStatus>;

/** One check of one part of the agent: its name (`connection`, `cgroups`, `docker`, `dns`, `disk`, `clock`), status and what it found. */
export const DiagnosticCheck = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z][a-z0-9_-]*$/, "a check name is lowercase letters, digits, _ and -"),
  status: CheckStatus,
  message: z.string().max(1024),
});
export type DiagnosticCheck = z.infer<typeof DiagnosticCheck>;

const Checks = z.array(DiagnosticCheck).max(32);
const RequestId = z.string().min(1).max(128);

/** agent → master: the agent's checks; `sentAt` (epoch ms) lets the master measure the agent's clock skew. */
export const Diagnostics = z.strictObject({
  type: z.literal("diagnostics"),
  checks: Checks,
  sentAt: z.number().nonnegative(),
});
export type Diagnostics = z.infer<typeof Diagnostics>;

/** master → agent: send your checks and recent log lines for a diagnostics bundle. */
export const Bundle = z.strictObject({ type: z.literal("bundle"), requestId: RequestId });
export type Bundle = z.infer<typeof Bundle>;

/** agent → master: the answer to `bundle`: checks, and the agent's recent log lines (JSON lines, oldest first). */
export const BundleData = z.strictObject({
  type: z.literal("bundleData"),
  requestId: RequestId,
  checks: Checks,
  sentAt: z.number().nonnegative(),
  logs: z.string().max(MAX_BUNDLE_LOG_BYTES),
});
export type BundleData = z.infer<typeof BundleData>;
