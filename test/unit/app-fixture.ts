import { expect } from "vitest";
import { type App, parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";

/** Parses an app definition that must be valid; a failure names every problem. */
export function valid(json: unknown): App {
  const result = parseAppDefinition(json);
  if (!result.ok) throw new Error(`expected a valid app, got ${JSON.stringify(result.details)}`);
  return result.app;
}

/** GET → PUT: the stored app, sent back as JSON, must parse to itself. */
export function expectRoundTrip(app: App): void {
  expect(valid(JSON.parse(JSON.stringify(app)))).toEqual(app);
}
