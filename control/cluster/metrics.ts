import { Histogram, type MetricFamily, type Sample } from "../../protocol/prometheus.ts";
import { type AgentRecord, listAgents } from "./agents.ts";
import type { RoundResult } from "./allocator/round.ts";
import type { ClusterDb } from "./db.ts";
import { listDeployments } from "./frameworks/marathon/deployments.ts";
import { counters, getMeta, setMeta } from "./meta.ts";
import { type AgentUsage, countByState, usageByAgent } from "./tasks.ts";

/**
 * The Cluster object's Prometheus metrics (`/c/:cluster/metrics/prometheus`).
 *
 * Gauges are read from the tables at scrape time (agents, tasks, usage, deployments), so they
 * cost nothing between scrapes. Counters and histograms are events (rounds, offers, placements,
 * DNS queries, status updates): they are counted in memory, one addition per batch rather than
 * one write per task, and saved as one `meta` row (`metrics`) at most once a second
 * (FLUSH_DELAY_MS) and before every scrape. A restarted object starts from the saved row, so a
 * scraper never sees a counter go back; an eviction loses at most the last second's events.
 */

/** The `meta` key the counters are saved under (meta.ts owns the table). */
const SAVED_KEY = "metrics";
const FLUSH_DELAY_MS = 1000;
/** Seconds. A round is pure computation plus SQLite: sub-millisecond when small. */
export const ROUND_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Seconds from the agent observing a state to the master applying it; minutes when an agent was cut off. */
export const LAG_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Counters by name, each by its one label's value. */
type CounterName = "rounds" | "offers" | "offersDeclined" | "placements" | "dnsQueries" | "dnsSnapshots" | "statusUpdates" | "storageRows";
type Counters = Record<CounterName, Record<string, number>>;

interface Saved {
  counters: Partial<Counters>;
  roundSeconds?: { counts: number[]; sum: number };
  lagSeconds?: { counts: number[]; sum: number };
}

const emptyCounters = (): Counters => ({
  rounds: {},
  offers: {},
  offersDeclined: {},
  placements: {},
  dnsQueries: {},
  dnsSnapshots: {},
  statusUpdates: {},
  storageRows: {},
});

/** Counts the cluster's events and renders every metric; one per Cluster object. */
export class ClusterMetrics {
  private readonly counters: Counters;
  private readonly roundSeconds: Histogram;
  private readonly lagSeconds: Histogram;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly db: ClusterDb) {
    const saved = readSaved(db);
    this.counters = { ...emptyCounters(), ...saved.counters };
    this.roundSeconds = new Histogram(ROUND_BOUNDS, saved.roundSeconds);
    this.lagSeconds = new Histogram(LAG_BOUNDS, saved.lagSeconds);
  }

  /** A committed allocation round and how long it took (`seconds`, as the runtime's clock saw it). */
  round(result: RoundResult, seconds: number): void {
    this.add("rounds", "", 1);
    this.roundSeconds.observe(seconds);
    for (const [framework, tally] of Object.entries(result.offers)) {
      this.add("offers", framework, tally.offered);
      this.add("offersDeclined", framework, tally.declined);
    }
    for (const task of result.launched) this.add("placements", task.framework, 1);
    this.changed();
  }

  /** Committed status updates: how each was taken, and the lag of those applied. */
  statusUpdates(results: readonly string[], lagsSeconds: readonly number[]): void {
    for (const r of results) this.add("statusUpdates", r, 1);
    for (const lag of lagsSeconds) this.lagSeconds.observe(Math.max(0, lag));
    this.changed();
  }

  /**
   * DNS questions the Worker answered from its copy of the zone since its last check, by rcode
   * (`outside` for names outside the cluster's zones), and that check itself: `unchanged` when
   * the Worker's copy was current, `sent` when the object sent a new snapshot.
   */
  dnsChecked(result: "unchanged" | "sent", queries: Record<string, number>): void {
    this.add("dnsSnapshots", result, 1);
    for (const [rcode, n] of Object.entries(queries)) if (Number.isSafeInteger(n) && n > 0) this.add("dnsQueries", rcode.slice(0, 16), n);
    this.changed();
  }

  /** Saves the counters now (before a scrape, so what a scraper sees is never ahead of storage). */
  flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.foldStorageRows();
    const saved: Saved = { counters: this.counters, roundSeconds: this.roundSeconds.toJSON(), lagSeconds: this.lagSeconds.toJSON() };
    setMeta(this.db, SAVED_KEY, JSON.stringify(saved));
  }

  /** Every metric of the cluster, read now. */
  collect(): MetricFamily[] {
    this.flush();
    const c = this.counters;
    return [
      ...stateFamilies(this.db),
      counter("dcx_allocation_rounds_total", "Allocation rounds run.", labelled(c.rounds, "")),
      {
        name: "dcx_allocation_round_duration_seconds",
        help: "Time of one allocation round inside the Cluster object, by the runtime's clock.",
        type: "histogram",
        series: [this.roundSeconds.series()],
      },
      counter("dcx_offers_total", "Agents offered to a framework with demand in an allocation round.", labelled(c.offers, "framework")),
      counter("dcx_offers_declined_total", "Offers a framework declined (the agent is then filtered for it for 5 s).", labelled(c.offersDeclined, "framework")),
      counter("dcx_placements_total", "Tasks placed on agents by the allocator.", labelled(c.placements, "framework")),
      counter(
        "dcx_dns_queries_total",
        "DNS questions answered from the cluster's zone, by rcode; 'outside' for names outside it, which the Worker forwards upstream or refuses. Each Worker isolate reports them with its next zone check (at most a lease, 1 s, later) or before a scrape it serves.",
        labelled(c.dnsQueries, "result"),
      ),
      counter(
        "dcx_dns_snapshot_checks_total",
        "Requests of the Worker's isolates to this object for the DNS zone: 'unchanged' when their copy was current, 'sent' when a new snapshot went out. DNS queries cost the object nothing else.",
        labelled(c.dnsSnapshots, "result"),
      ),
      counter(
        "dcx_status_updates_total",
        "Task status updates received from agents, by how they were taken (applied, duplicate, stale, unknown).",
        labelled(c.statusUpdates, "result"),
      ),
      {
        name: "dcx_status_update_lag_seconds",
        help: "Time from an agent observing a task state to the master applying it (agent clock to master clock).",
        type: "histogram",
        series: [this.lagSeconds.series()],
      },
      counter(
        "dcx_storage_rows_total",
        "Rows the Cluster object's SQLite statements read and wrote ('read', 'written'), as Cloudflare bills them; counted from each statement's cursor.",
        labelled(c.storageRows, "operation"),
      ),
      ...agentEventFamilies(this.db),
    ];
  }

  /** Moves the rows counted since the last fold into the saved counters. */
  private foldStorageRows(): void {
    const rows = this.db.$rows;
    this.add("storageRows", "read", rows.read);
    this.add("storageRows", "written", rows.written);
    rows.read = 0;
    rows.written = 0;
  }

  private add(name: CounterName, label: string, by: number): void {
    if (by === 0) return;
    const values = this.counters[name];
    values[label] = (values[label] ?? 0) + by;
  }

  private changed(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }
}

function readSaved(db: ClusterDb): Saved {
  const text = getMeta(db, SAVED_KEY);
  if (text === undefined) return { counters: {} };
  try {
    const parsed = JSON.parse(text) as Saved;
    const counters: Partial<Counters> = {};
    for (const name of Object.keys(emptyCounters()) as CounterName[]) {
      const values = parsed.counters?.[name];
      // Only label → finite number maps are taken: a damaged entry starts over rather than poisoning the sums.
      if (values && typeof values === "object") counters[name] = Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
    }
    return { ...parsed, counters };
  } catch {
    // A damaged row must not stop the object: counters then start over, which Prometheus reads as a reset.
    return { counters: {} };
  }
}

const counter = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: "counter", samples });
const gauge = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: "gauge", samples });

/** A counter's values as samples; `label` "" means the counter has no label. */
function labelled(values: Record<string, number>, label: string): Sample[] {
  if (label === "") return [{ value: values[""] ?? 0 }];
  return Object.entries(values)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, value]) => ({ labels: { [label]: v }, value }));
}

const AGENT_STATES: readonly AgentRecord["state"][] = ["active", "disconnected", "unreachable"];
/** Live states always listed, so a dashboard's series exist before the first task. */
const TASK_STATES_SHOWN = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"];
const MIB = 1024 * 1024;

/** Gauges read from the tables: agents and tasks by state, each agent's resources and tasks. */
function stateFamilies(db: ClusterDb): MetricFamily[] {
  const agents = listAgents(db);
  const usage = usageByAgent(db);
  const byState = { ...Object.fromEntries(TASK_STATES_SHOWN.map((s) => [s, 0])), ...countByState(db) };
  const perAgent = (pick: (a: AgentRecord, u: AgentUsage | undefined) => number): Sample[] =>
    agents.map((a) => ({ labels: { agent_id: a.id, hostname: a.hostname }, value: pick(a, usage.get(a.id)) }));
  return [
    gauge(
      "dcx_agents",
      "Agents by state.",
      AGENT_STATES.map((state) => ({ labels: { state }, value: agents.filter((a) => a.state === state).length })),
    ),
    gauge(
      "dcx_tasks",
      "Live tasks by state (Mesos task states).",
      Object.entries(byState)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([state, value]) => ({ labels: { state }, value })),
    ),
    gauge("dcx_deployments", "Marathon deployments in progress.", [{ value: listDeployments(db).length }]),
    gauge(
      "dcx_cluster_agent_cpus",
      "CPUs an agent offers.",
      perAgent((a) => a.resources.cpus),
    ),
    gauge(
      "dcx_cluster_agent_cpus_used",
      "CPUs held by an agent's live tasks.",
      perAgent((_, u) => u?.cpus ?? 0),
    ),
    gauge(
      "dcx_cluster_agent_memory_bytes",
      "Memory an agent offers.",
      perAgent((a) => a.resources.mem * MIB),
    ),
    gauge(
      "dcx_cluster_agent_memory_used_bytes",
      "Memory held by an agent's live tasks.",
      perAgent((_, u) => (u?.mem ?? 0) * MIB),
    ),
    gauge(
      "dcx_cluster_agent_disk_bytes",
      "Disk an agent offers.",
      perAgent((a) => a.resources.disk * MIB),
    ),
    gauge(
      "dcx_cluster_agent_disk_used_bytes",
      "Disk held by an agent's live tasks.",
      perAgent((_, u) => (u?.disk ?? 0) * MIB),
    ),
    gauge(
      "dcx_cluster_agent_gpus",
      "GPUs an agent offers.",
      perAgent((a) => a.resources.gpus),
    ),
    gauge(
      "dcx_cluster_agent_gpus_used",
      "GPUs held by an agent's live tasks.",
      perAgent((_, u) => u?.gpus ?? 0),
    ),
    gauge(
      "dcx_cluster_agent_ports",
      "Host ports an agent offers.",
      perAgent((a) => a.resources.ports.reduce((n, [lo = 0, hi = -1]) => n + hi - lo + 1, 0)),
    ),
    gauge(
      "dcx_cluster_agent_ports_used",
      "Host ports held by an agent's live tasks.",
      perAgent((_, u) => u?.ports.length ?? 0),
    ),
    gauge(
      "dcx_cluster_agent_tasks",
      "Live tasks on an agent.",
      perAgent((_, u) => u?.tasks ?? 0),
    ),
    gauge(
      "dcx_cluster_agent_connected",
      "1 while the agent's socket is open, else 0.",
      perAgent((a) => (a.state === "active" ? 1 : 0)),
    ),
  ];
}

/** Agent registrations and removals, which agents.ts already counts in `meta` (Mesos's `master/slave_*`). */
function agentEventFamilies(db: ClusterDb): MetricFamily[] {
  const c = counters(db, "counter:");
  return [
    counter("dcx_cluster_agent_registrations_total", "Agents that joined the cluster.", [{ value: c.slave_registrations ?? 0 }]),
    counter("dcx_cluster_agent_reregistrations_total", "Sessions of known agents that registered again.", [{ value: c.slave_reregistrations ?? 0 }]),
    counter("dcx_cluster_agent_resumes_total", "Re-registrations whose task digest matched the master's record, so nothing was reconciled.", [
      { value: c.slave_resumed ?? 0 },
    ]),
    counter("dcx_cluster_agent_registrations_deferred_total", "Registrations turned away over the admission rate, told when to retry.", [
      { value: c.slave_registrations_deferred ?? 0 },
    ]),
    counter("dcx_cluster_agent_registrations_held_total", "Sessions held at their gateway over the admission rate until their turn.", [
      { value: c.slave_registrations_held ?? 0 },
    ]),
    counter("dcx_cluster_agent_removals_total", "Agents removed by an operator.", [{ value: c.slave_removals ?? 0 }]),
    counter("dcx_agents_unreachable_total", "Agents marked unreachable after missing heartbeats.", [{ value: c.slave_unreachable_completed ?? 0 }]),
    counter("dcx_cluster_agent_frames_invalid_total", "Agent frames that did not parse and were answered with an error.", [{ value: c.dropped_messages ?? 0 }]),
  ];
}
