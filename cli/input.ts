import { CliError, errorText } from "./errors.ts";

/**
 * Reads one JSON object (an app definition, a job spec) from a file, or from stdin for `-`;
 * `what` names it in the errors, e.g. "app definition".
 */
export async function readJsonObject(file: string, what: string): Promise<Record<string, unknown>> {
  const where = file === "-" ? "stdin" : file;
  let text: string;
  try {
    text = file === "-" ? await Bun.stdin.text() : await Bun.file(file).text();
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${errorText(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${where} is not JSON: ${errorText(error)}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new CliError(`${where} must hold one ${what} (a JSON object)`);
  return json as Record<string, unknown>;
}
