import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { attributes, jsonArg, printList, usage } from "../output.ts";
import { nodeDiagnostics } from "./diagnostics.ts";

/** `dcx node list`: the agents of the current cluster, as Mesos's `/master/slaves` shows them. */

interface Resources {
  cpus?: number;
  mem?: number;
  disk?: number;
}
interface Slave {
  id: string;
  hostname: string;
  state?: string;
  active: boolean;
  resources: Resources;
  used_resources: Resources;
  attributes: Record<string, unknown>;
  /** Resources by role; a public agent's are all `slave_public`'s. */
  reserved_resources?: Record<string, unknown>;
}

/** The role the agent's resources are reserved for (`slave_public` on a public agent), else `*`. */
function role(a: Slave): string {
  return Object.keys(a.reserved_resources ?? {})[0] ?? "*";
}

const list = defineCommand({
  meta: { name: "list", description: "List the agents: state, role (slave_public: public), CPUs and memory (MB) used of total, attributes" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const { slaves } = await s.api.get<{ slaves: Slave[] }>(s.path("/master/slaves"));
    printList(
      args.json,
      slaves,
      ["ID", "HOSTNAME", "STATE", "ROLE", "CPUS", "MEM", "ATTRIBUTES"],
      (a) => [
        a.id,
        a.hostname,
        a.state ?? (a.active ? "active" : "inactive"),
        role(a),
        usage(a.used_resources.cpus, a.resources.cpus),
        usage(a.used_resources.mem, a.resources.mem),
        attributes(a.attributes),
      ],
      "No agents: create a join token with 'dcx agent token create' and run 'dcx agent run' on a machine.",
    );
  },
});

export const node = defineCommand({
  meta: { name: "node", description: "The cluster's agents" },
  subCommands: { list, diagnostics: nodeDiagnostics },
});
