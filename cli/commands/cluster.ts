import { defineCommand } from "citty";
import { session } from "../api.ts";
import { writeConfig } from "../config.ts";
import { CliError } from "../errors.ts";
import { jsonArg, print, printJson, printList, shortTime } from "../output.ts";

/** `dcx cluster list|use`: the clusters you belong to, and which one commands act on. */

interface ClusterSummary {
  id: string;
  name: string;
  role: string;
  createdAt: string;
}

const list = defineCommand({
  meta: { name: "list", description: "List your clusters; * marks the current one" },
  args: jsonArg,
  async run({ args }) {
    const s = session();
    const { clusters } = await s.api.get<{ clusters: ClusterSummary[] }>("/clusters");
    const rows = clusters.map((c) => ({ ...c, current: c.id === s.config.cluster }));
    printList(
      args.json,
      rows,
      ["", "ID", "NAME", "ROLE", "CREATED"],
      (c) => [c.current ? "*" : " ", c.id, c.name, c.role, shortTime(c.createdAt)],
      "No clusters.",
    );
  },
});

const use = defineCommand({
  meta: { name: "use", description: "Make a cluster (by id or name) the current one" },
  args: { cluster: { type: "positional", required: true, description: "cluster id or name" }, ...jsonArg },
  async run({ args }) {
    const s = session();
    const { clusters } = await s.api.get<{ clusters: ClusterSummary[] }>("/clusters");
    const byId = clusters.find((c) => c.id === args.cluster);
    const byName = clusters.filter((c) => c.name === args.cluster);
    if (!byId && byName.length > 1)
      throw new CliError(
        `more than one of your clusters is named '${args.cluster}': use its id`,
        byName.map((c) => c.id),
      );
    const chosen = byId ?? byName[0];
    if (!chosen) throw new CliError(`no cluster of yours has the id or name '${args.cluster}' (see 'dcx cluster list')`);
    writeConfig(s.configPath, { ...s.config, cluster: chosen.id });
    if (args.json) printJson(chosen);
    else print(`Current cluster: ${chosen.name} (${chosen.id}).`);
  },
});

export const cluster = defineCommand({
  meta: { name: "cluster", description: "Your clusters" },
  subCommands: { list, use },
});
