import type { Resources } from "../protocol/index.ts";
import { type MetricFamily, PROMETHEUS_CONTENT_TYPE, type Sample, renderExposition } from "../protocol/prometheus.ts";
import type { ConnectionStats } from "./connection.ts";
import { type HostPort, formatHostPort } from "./dns/listen-address.ts";
import type { TaskHostStats } from "./task-host.ts";
import type { VipPathStatus, VipStatus } from "./vips/balancer.ts";

/**
 * The agent's own metrics in Prometheus's text format, served at `http://ADDR/metrics` when
 * `--metrics-listen ADDR` is given: what this machine offers and what its tasks hold, its tasks
 * by state, the status outbox's depth, its sessions with the master, and its DNS forwarder's
 * queries. Everything is read at scrape time from the parts that own it; nothing is stored.
 *
 * Names start `dcx_agent_`; the control plane's view of every agent is `dcx_cluster_agent_*`
 * on `/c/:cluster/metrics/prometheus`, so scraping both never double counts.
 */

/** What one scrape reads. */
export interface AgentMetricsSnapshot {
  agentId: string | undefined;
  hostname: string;
  version: string;
  resources: Resources;
  tasks: TaskHostStats;
  connection: ConnectionStats;
  /** Undefined while the DNS forwarder is off. */
  dnsQueries: { transport: string; result: string; count: number }[] | undefined;
  /** The VIPs this agent balances (named VIPs, `VIP_n` labels). */
  vips?: VipStatus[];
  vipPath?: VipPathStatus;
}

const MIB = 1024 * 1024;
/** Live states always listed, so a dashboard's series exist before the first task. */
const TASK_STATES_SHOWN = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"];

const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "gauge", samples: [{ value }] });
const counter = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: "counter", samples });

/** The agent's metric families for one snapshot. */
export function agentFamilies(s: AgentMetricsSnapshot): MetricFamily[] {
  const { resources: offered, tasks } = s;
  const byState = { ...Object.fromEntries(TASK_STATES_SHOWN.map((state) => [state, 0])), ...tasks.tasksByState };
  const families: MetricFamily[] = [
    {
      name: "dcx_agent_info",
      help: "The agent's id (empty until it has joined), host name and version; always 1.",
      type: "gauge",
      samples: [{ labels: { agent_id: s.agentId ?? "", hostname: s.hostname, version: s.version }, value: 1 }],
    },
    gauge("dcx_agent_connected", "1 while a registered session with the master is up, else 0.", s.connection.up ? 1 : 0),
    counter("dcx_agent_sessions_total", "Sessions opened with the master, the first included.", [{ value: s.connection.sessions }]),
    counter("dcx_agent_reconnects_total", "Sessions opened after an earlier one ended.", [{ value: Math.max(0, s.connection.sessions - 1) }]),
    counter("dcx_agent_registrations_total", "Sessions the master answered with registered.", [{ value: s.connection.registrations }]),
    gauge("dcx_agent_cpus", "CPUs this agent offers.", offered.cpus),
    gauge("dcx_agent_cpus_used", "CPUs held by this agent's running tasks.", tasks.used.cpus),
    gauge("dcx_agent_memory_bytes", "Memory this agent offers.", offered.mem * MIB),
    gauge("dcx_agent_memory_used_bytes", "Memory held by this agent's running tasks.", tasks.used.mem * MIB),
    gauge("dcx_agent_disk_bytes", "Disk this agent offers.", offered.disk * MIB),
    gauge("dcx_agent_disk_used_bytes", "Disk held by this agent's running tasks.", tasks.used.disk * MIB),
    gauge("dcx_agent_gpus", "GPUs this agent offers.", offered.gpus),
    gauge("dcx_agent_gpus_used", "GPUs held by this agent's running tasks.", tasks.used.gpus),
    gauge(
      "dcx_agent_ports",
      "Host ports this agent offers.",
      offered.ports.reduce((n, [lo = 0, hi = -1]) => n + hi - lo + 1, 0),
    ),
    gauge("dcx_agent_ports_used", "Host ports held by this agent's running tasks.", tasks.used.ports),
    {
      name: "dcx_agent_tasks",
      help: "Tasks not yet settled with the master, by the state last reported.",
      type: "gauge",
      samples: Object.entries(byState)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([state, value]) => ({ labels: { state }, value })),
    },
    gauge("dcx_agent_outbox_updates", "Status updates waiting in the durable outbox for the master's ack.", tasks.outboxDepth),
  ];
  if (s.dnsQueries !== undefined) {
    const samples = s.dnsQueries.map(({ transport, result, count }) => ({ labels: { transport, result }, value: count }));
    families.push(
      counter(
        "dcx_agent_dns_queries_total",
        "Queries the agent's DNS forwarder answered, by transport and rcode ('dropped' when it sent nothing back).",
        samples,
      ),
    );
  }
  if (s.vips !== undefined) families.push(...vipFamilies(s.vips));
  if (s.vipPath?.path !== undefined) {
    const labels = { mode: s.vipPath.mode, path: s.vipPath.path };
    families.push({
      name: "dcx_agent_vip_path",
      help: "The data path serving VIPs (kernel: nftables NAT rules; userspace: the agent's listeners), by --vip-mode.",
      type: "gauge",
      samples: [{ labels, value: 1 }],
    });
  }
  return families;
}

/** Per VIP (its name and `ip:port`): backends, and for the ones its listeners serve, connections taken, refused and open. */
function vipFamilies(vips: VipStatus[]): MetricFamily[] {
  const sample = (v: VipStatus, value: number) => ({ labels: { vip: v.name, address: `${v.ip}:${v.port}` }, value });
  // Connections through the kernel's rules never reach the agent: it has no count of them.
  const each = (value: (v: VipStatus) => number) => vips.filter((v) => v.path === "userspace").map((v) => sample(v, value(v)));
  return [
    {
      name: "dcx_agent_vip_backends",
      help: "Backends of each VIP this agent balances, draining ones included.",
      type: "gauge",
      samples: vips.map((v) => sample(v, v.backends)),
    },
    counter(
      "dcx_agent_vip_connections_total",
      "Connections this agent's balancer accepted on each VIP.",
      each((v) => v.accepted),
    ),
    counter(
      "dcx_agent_vip_connections_refused_total",
      "Connections closed at once because no backend of the VIP took them.",
      each((v) => v.refused),
    ),
    { name: "dcx_agent_vip_connections_open", help: "Connections open through each VIP.", type: "gauge", samples: each((v) => v.active) },
  ];
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** Where it listens (the real port when asked for port 0). */
  readonly address: string;
  stop(): void;
}

/**
 * Serves `GET /metrics` (Prometheus's default path) on `listen`, rendering `snapshot()` at each
 * scrape. Throws when the address cannot be bound.
 */
export function startMetricsServer(listen: HostPort, snapshot: () => AgentMetricsSnapshot): MetricsServer {
  const server = Bun.serve({
    hostname: listen.host,
    port: listen.port,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path !== "/metrics")
        return new Response("Not found: the agent's metrics are at /metrics\n", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
      if (request.method !== "GET" && request.method !== "HEAD") return new Response("Only GET and HEAD\n", { status: 405, headers: { Allow: "GET, HEAD" } });
      return new Response(renderExposition(agentFamilies(snapshot())), { headers: { "Content-Type": PROMETHEUS_CONTENT_TYPE } });
    },
  });
  return {
    address: formatHostPort({ host: listen.host, port: server.port ?? listen.port }),
    stop: () => void server.stop(true),
  };
}
