import { parseJob } from "../cluster/frameworks/metronome/job-spec.ts";
import { validationError } from "../errors.ts";

/** The body's `id`, when given, must name the resource in the path. */
export function sameId(body: Record<string, unknown>, id: string, what: string): void {
  if (body.id !== undefined && body.id !== id)
    throw validationError([{ path: "/id", errors: [`the ${what} id in the body ('${String(body.id)}') differs from the path ('${id}')`] }]);
}

/**
 * A new definition of job `id` (`PUT /v1/jobs/{id}`): the body's id, if any, must be `id`.
 * Throws Metronome's 422 with field paths. The API and the UI's job editor both come here.
 */
export function parseJobReplacement(body: Record<string, unknown>, id: string) {
  sameId(body, id, "job");
  const parsed = parseJob({ ...body, id });
  if (!parsed.ok) throw validationError(parsed.details);
  return parsed;
}
