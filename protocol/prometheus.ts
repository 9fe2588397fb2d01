/**
 * The Prometheus text exposition format (version 0.0.4), which both the control plane
 * (`/c/:cluster/metrics/prometheus`) and the agent (`--metrics-listen`) serve. A tiny writer
 * rather than a client library: `prom-client` needs Node's internals, which the Workers runtime
 * lacks, and what DCX exposes is computed at scrape time from its own state.
 *
 * What must stay true: names match Prometheus's grammar (checked, so a bad name fails loudly in
 * tests rather than producing a file Prometheus rejects), label values and help text are
 * escaped as the format says, and a histogram's buckets are cumulative and end with `+Inf`.
 */

/** The Content-Type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

/** One labelled histogram: `counts[i]` observations fell at or below `bounds[i]` (not cumulative), `counts[bounds.length]` above them all. */
export interface HistogramSeries {
  labels?: Labels;
  bounds: readonly number[];
  counts: readonly number[];
  sum: number;
}

export type MetricFamily =
  | { name: string; help: string; type: "counter" | "gauge"; samples: readonly Sample[] }
  | { name: string; help: string; type: "histogram"; series: readonly HistogramSeries[] };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Renders families in the text format; throws on a name Prometheus would reject. */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`invalid metric name '${family.name}'`);
    if (seen.has(family.name)) throw new Error(`metric '${family.name}' is rendered twice`);
    seen.add(family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type === "histogram") {
      for (const series of family.series) lines.push(...histogramLines(family.name, series));
    } else {
      for (const sample of family.samples) lines.push(sampleLine(family.name, sample.labels, sample.value));
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

function histogramLines(name: string, series: HistogramSeries): string[] {
  if (series.counts.length !== series.bounds.length + 1) throw new Error(`histogram '${name}' needs one count per bound plus one above them`);
  const lines: string[] = [];
  let cumulative = 0;
  series.bounds.forEach((bound, i) => {
    cumulative += series.counts[i] ?? 0;
    lines.push(sampleLine(`${name}_bucket`, { ...series.labels, le: formatValue(bound) }, cumulative));
  });
  cumulative += series.counts[series.bounds.length] ?? 0;
  lines.push(sampleLine(`${name}_bucket`, { ...series.labels, le: "+Inf" }, cumulative));
  lines.push(sampleLine(`${name}_sum`, series.labels, series.sum));
  lines.push(sampleLine(`${name}_count`, series.labels, cumulative));
  return lines;
}

function sampleLine(name: string, labels: Labels | undefined, value: number): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return `${name} ${formatValue(value)}`;
  const rendered = entries.map(([k, v]) => {
    if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new Error(`invalid label name '${k}' on '${name}'`);
    return `${k}="${escapeLabelValue(v)}"`;
  });
  return `${name}{${rendered.join(",")}} ${formatValue(value)}`;
}

/** Go's float syntax as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, or a decimal. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/** In a label value: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** In help text: backslash and line feed are escaped (quotes stand as they are). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/**
 * A histogram being filled: observations counted per bucket (not cumulative), as
 * `HistogramSeries` wants them. Plain data, so it can be stored and restored as JSON.
 */
export class Histogram {
  readonly counts: number[];
  sum = 0;

  constructor(
    readonly bounds: readonly number[],
    saved?: { counts: readonly number[]; sum: number },
  ) {
    const fits = saved !== undefined && saved.counts.length === bounds.length + 1 && saved.counts.every((n) => Number.isFinite(n) && n >= 0);
    this.counts = fits ? [...saved.counts] : new Array<number>(bounds.length + 1).fill(0);
    if (fits && Number.isFinite(saved.sum)) this.sum = saved.sum;
  }

  observe(value: number): void {
    let i = this.bounds.findIndex((bound) => value <= bound);
    if (i < 0) i = this.bounds.length;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
  }

  series(labels?: Labels): HistogramSeries {
    return { labels, bounds: this.bounds, counts: this.counts, sum: this.sum };
  }

  toJSON(): { counts: number[]; sum: number } {
    return { counts: this.counts, sum: this.sum };
  }
}
