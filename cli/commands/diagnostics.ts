import { defineCommand } from "citty";
import { writeFileSync } from "node:fs";
import { clusterSession } from "../api.ts";
import { CliError, errorText } from "../errors.ts";
import { jsonArg, note, print, printJson, printList, table } from "../output.ts";

/**
 * Node diagnostics, as DC/OS's diagnostics service gives them: `dcx node diagnostics [AGENT]`
 * shows each agent's self-checks; `dcx diagnostics bundle` saves one zip of the cluster's state
 * and every connected agent's checks and recent log lines.
 */

interface Check {
  name: string;
  status: "healthy" | "unhealthy" | "disabled";
  message: string;
}
export interface NodeDiagnostics {
  agentId: string;
  hostname: string;
  state: string;
  healthy: boolean;
  reportedAt: number | null;
  checks: Check[];
}

/** A node's health in one word: HEALTHY, UNHEALTHY, or UNKNOWN before its first report. */
export function health(node: NodeDiagnostics): string {
  if (node.reportedAt === null) return "UNKNOWN";
  return node.healthy ? "HEALTHY" : "UNHEALTHY";
}

/** `dcx node diagnostics [AGENT]`: every node's health, or one node's checks. */
export const nodeDiagnostics = defineCommand({
  meta: {
    name: "diagnostics",
    description: "Each agent's self-checks (connection, cgroups, docker, DNS forwarder, disk, clock); with an agent id, its checks one by one",
  },
  args: { agent: { type: "positional", required: false, description: "an agent id (see 'dcx node list')" }, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    if (args.agent) {
      const node = await s.api.get<NodeDiagnostics>(s.path(`/agents/${encodeURIComponent(args.agent)}/diagnostics`));
      if (args.json) return printJson(node);
      print(
        `${node.hostname} (${node.agentId}): ${health(node)}, ${node.state}${node.reportedAt === null ? "" : `, reported ${new Date(node.reportedAt).toISOString()}`}`,
      );
      if (node.checks.length === 0) return note("The agent has not reported its checks yet.");
      return print(
        table(
          ["CHECK", "STATUS", "MESSAGE"],
          node.checks.map((c) => [c.name, c.status.toUpperCase(), c.message]),
        ),
      );
    }
    const { nodes } = await s.api.get<{ nodes: NodeDiagnostics[] }>(s.path("/diagnostics"));
    printList(
      args.json,
      nodes,
      ["ID", "HOSTNAME", "STATE", "HEALTH", "FAILING"],
      (n) => [
        n.agentId,
        n.hostname,
        n.state,
        health(n),
        n.checks
          .filter((c) => c.status === "unhealthy")
          .map((c) => c.name)
          .join(",") || "-",
      ],
      "No agents: create a join token with 'dcx agent token create' and run 'dcx agent run' on a machine.",
    );
  },
});

const bundle = defineCommand({
  meta: { name: "bundle", description: "Save a zip of the cluster's state and each connected agent's checks and recent logs" },
  args: {
    output: { type: "string", alias: "o", description: "where to write the zip (default: the name the server gives, in the current directory)" },
    timeout: { type: "string", default: "10", description: "seconds to wait for each agent's answer (0.1-30)" },
  },
  async run({ args }) {
    const seconds = Number(args.timeout);
    if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 30)
      throw new CliError(`--timeout: '${args.timeout}' is not a number of seconds from 0.1 to 30`);
    const s = clusterSession();
    const res = await s.api.open(s.path("/diagnostics/bundle"), { timeoutMs: Math.round(seconds * 1000) }, "application/zip", seconds * 1000 + 30_000, "POST");
    const named = /filename="([^"/\\]+)"/.exec(res.headers.get("Content-Disposition") ?? "")?.[1];
    const path = args.output ?? named ?? "dcx-bundle.zip";
    const bytes = new Uint8Array(await res.arrayBuffer());
    try {
      writeFileSync(path, bytes);
    } catch (error) {
      throw new CliError(`cannot write the bundle to ${path}: ${errorText(error)}`);
    }
    print(`Wrote ${path} (${bytes.length} bytes)`);
  },
});

export const diagnostics = defineCommand({
  meta: { name: "diagnostics", description: "Diagnostics bundles of the cluster" },
  subCommands: { bundle },
});
