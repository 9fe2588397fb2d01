/**
 * Marathon's and Metronome's `/metrics` JSON: the Dropwizard metrics registry as its JSON
 * servlet prints it (version 4.0.0), of which DCX fills the gauges.
 */
export function dropwizardMetrics(gauges: Record<string, number>) {
  return {
    version: "4.0.0",
    counters: {},
    gauges: Object.fromEntries(Object.entries(gauges).map(([k, value]) => [k, { value }])),
    histograms: {},
    meters: {},
    timers: {},
  };
}
