import type { Outcome } from "../cluster/frameworks/marathon/commands.ts";
import { ApiError, type ErrorCode } from "../errors.ts";

/** The value of a command's Outcome, or the ApiError it stands for (Marathon's bodies and statuses). */
export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const extra = outcome.deployments ? { deployments: outcome.deployments } : {};
  throw new ApiError(outcome.code, outcome.message, outcome.details ?? [], {}, extra);
}

/** Whether a command failed with `code` (e.g. not_found, to fall back to another command). */
export function failedWith(outcome: Outcome<unknown>, code: ErrorCode): boolean {
  return !outcome.ok && outcome.code === code;
}
