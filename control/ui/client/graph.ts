/**
 * The overview's allocation graph (`/assets/graph.js`, uPlot bundled from npm): CPU, memory and
 * disk allocation in percent over time, from the history service, refreshed every minute. A
 * text summary and a table of recent samples say the same for screen readers.
 */
import uPlot from "uplot";
import { allocation, parseHistory, type Sample } from "./history-samples.ts";

const REFRESH_MS = 60_000;
const TABLE_ROWS = 10;

function color(figure: HTMLElement, name: string, fallback: string): string {
  return getComputedStyle(figure).getPropertyValue(name).trim() || fallback;
}

function options(figure: HTMLElement, width: number): uPlot.Options {
  const percent = (_u: uPlot, values: number[]) => values.map((v) => `${v}%`);
  return {
    width,
    height: 240,
    // Times in UTC, like every other time the UI shows.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    // The x range comes from the samples themselves, at least the last hour: uPlot widens a
    // lone sample's range by 86400 / ms units, which with second timestamps is years.
    scales: { x: { time: true, range: (u) => xRange(u.data[0]) }, y: { range: [0, 100] } },
    axes: [{}, { values: percent }],
    series: [
      {},
      { label: "CPU", stroke: color(figure, "--graph-cpu", "#2563eb"), width: 2 },
      { label: "Memory", stroke: color(figure, "--graph-mem", "#16a34a"), width: 2 },
      { label: "Disk", stroke: color(figure, "--graph-disk", "#ea580c"), width: 2 },
    ],
  };
}

function xRange(times: ArrayLike<number>): uPlot.Range.MinMax {
  const last = times[times.length - 1] ?? Date.now() / 1000;
  return [Math.min(times[0] ?? last, last - 3600), last];
}

function data(samples: Sample[]): uPlot.AlignedData {
  return [samples.map((s) => s.at), samples.map((s) => allocation(s.cpus)), samples.map((s) => allocation(s.mem)), samples.map((s) => allocation(s.disk))];
}

function summarize(figure: HTMLElement, samples: Sample[]): void {
  const summary = figure.querySelector<HTMLElement>("[data-graph-summary]");
  const table = figure.querySelector<HTMLTableSectionElement>("[data-graph-rows]");
  const last = samples[samples.length - 1];
  if (summary && last) {
    const tasks = `${last.tasksRunning} ${last.tasksRunning === 1 ? "task" : "tasks"} running`;
    summary.textContent = `Latest sample (${new Date(last.at * 1000).toISOString().slice(11, 16)} UTC): CPU ${allocation(last.cpus)}%, memory ${allocation(last.mem)}%, disk ${allocation(last.disk)}% allocated; ${tasks}.`;
  }
  if (!table) return;
  table.replaceChildren();
  for (const s of samples.slice(-TABLE_ROWS).reverse()) {
    const row = table.insertRow();
    for (const text of [new Date(s.at * 1000).toISOString().slice(11, 16), `${allocation(s.cpus)}%`, `${allocation(s.mem)}%`, `${allocation(s.disk)}%`])
      row.insertCell().textContent = text;
  }
}

async function draw(figure: HTMLElement, plot: { chart?: uPlot }): Promise<void> {
  const url = figure.dataset.historyUrl ?? "";
  const status = figure.querySelector<HTMLElement>("[data-graph-status]");
  const target = figure.querySelector<HTMLElement>("[data-graph]");
  if (!status || !target) return;
  const res = await fetch(url, { credentials: "same-origin" }).catch(() => undefined);
  if (!res?.ok) {
    status.textContent = `The history could not be loaded (${res ? `HTTP ${res.status}` : "offline"}); retrying in a minute.`;
    return;
  }
  const samples = parseHistory(await res.json());
  figure.dataset.points = String(samples.length);
  status.textContent =
    samples.length === 0
      ? "No samples yet: the first one is taken within a minute."
      : `${samples.length} ${samples.length === 1 ? "sample" : "samples"}, one a minute.`;
  summarize(figure, samples);
  if (plot.chart) plot.chart.setData(data(samples));
  else plot.chart = new uPlot(options(figure, Math.max(target.clientWidth, 280)), data(samples), target);
}

for (const figure of document.querySelectorAll<HTMLElement>("[data-history-url]")) {
  const plot: { chart?: uPlot } = {};
  void draw(figure, plot);
  setInterval(() => document.visibilityState === "visible" && void draw(figure, plot), REFRESH_MS);
  new ResizeObserver(() => {
    const target = figure.querySelector<HTMLElement>("[data-graph]");
    if (plot.chart && target) plot.chart.setSize({ width: Math.max(target.clientWidth, 280), height: 240 });
  }).observe(figure);
}
