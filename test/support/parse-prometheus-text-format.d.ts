/** Types of the npm package `parse-prometheus-text-format` (it ships none). */
declare module "parse-prometheus-text-format" {
  export interface ParsedMetric {
    labels?: Record<string, string>;
    value?: string;
    /** Histograms: cumulative counts by `le`. */
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface ParsedFamily {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: ParsedMetric[];
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
