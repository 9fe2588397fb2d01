/// <reference path="./parse-prometheus-text-format.d.ts" />
import parsePrometheusTextFormat, { type ParsedFamily, type ParsedMetric } from "parse-prometheus-text-format";

/**
 * Reading a Prometheus exposition in tests with a third-party parser (npm's
 * `parse-prometheus-text-format`, a port of the Python client's). Runs anywhere, workerd
 * included; promtool.ts adds Prometheus's own linter where processes can be spawned.
 */

export type { ParsedFamily, ParsedMetric };

/** Parses an exposition; families by name. */
export function parseExposition(text: string): Map<string, ParsedFamily> {
  return new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
}

/** The one series of `name` whose labels include `labels`; throws naming what is missing. */
export function series(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): ParsedMetric {
  const family = families.get(name);
  if (!family) throw new Error(`no metric '${name}' in the exposition`);
  const found = family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} series of '${name}' match ${JSON.stringify(labels)}`);
  return found[0] as ParsedMetric;
}

/** A counter's or gauge's value, as a number. */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  return Number(series(families, name, labels).value);
}
