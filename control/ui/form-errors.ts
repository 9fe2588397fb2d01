import type { z } from "zod";
import { fieldErrors, type FieldError } from "../../protocol/messages.ts";

/** A form's errors by field name, for `Field`'s `errors`. */
export type FormErrors = Record<string, string[]>;

/** Field errors by field name: a field path `/zone` is the field `zone`. */
export function errorsByField(details: FieldError[]): FormErrors {
  return Object.fromEntries(details.map((d) => [d.path.replace(/^\//, ""), d.errors]));
}

/**
 * What a person typing into a form needs to hear where the schema speaks of types: the
 * schemas' own messages (ranges, patterns) are kept.
 */
const formWording: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== "invalid_type") return undefined;
  if (issue.input === undefined) return "is required";
  if (issue.expected === "int") return "must be a whole number";
  if (issue.expected === "number") return "must be a number";
  return undefined;
};

/**
 * Checks a form's fields with the API's own schema, so a page accepts exactly what the API
 * does: the parsed value, or the errors by field. An empty field counts as a missing one.
 */
export function checkFields<S extends z.ZodType>(
  schema: S,
  fields: Record<string, string | number | undefined>,
): { ok: true; value: z.output<S> } | { ok: false; errors: FormErrors } {
  const input = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(input, { error: formWording });
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, errors: errorsByField(fieldErrors(parsed.error)) };
}

/** A number typed into a field becomes a number for the schema to check its range; other text stays text, which the schema refuses as not a number. */
export function numberField(raw: string): number | string {
  const text = raw.trim();
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}
