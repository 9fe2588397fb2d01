import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { CliError } from "../errors.ts";
import { decimal, fields, jsonArg, print, printJson, printList } from "../output.ts";

/** `dcx framework list|show|teardown`: the cluster's frameworks (Marathon, Metronome and those on the scheduler API). */

interface Scalars {
  cpus: number;
  mem: number;
}
interface FrameworkJson {
  id: string;
  name: string;
  active: boolean;
  connected: boolean;
  principal?: string;
  role: string;
  roles?: string[];
  user: string;
  failover_timeout: number;
  registered_time: number;
  used_resources: Scalars;
  offered_resources: Scalars;
  tasks: { id: string; state: string; slave_id: string }[];
  offers: unknown[];
}

async function frameworks(): Promise<{ frameworks: FrameworkJson[]; completed: FrameworkJson[] }> {
  const s = clusterSession();
  const body = await s.api.get<{ frameworks: FrameworkJson[]; completed_frameworks: FrameworkJson[] }>(s.path("/master/frameworks"));
  return { frameworks: body.frameworks, completed: body.completed_frameworks };
}

const state = (f: FrameworkJson) => (f.connected ? "connected" : f.active ? "active" : "disconnected");

const list = defineCommand({
  meta: { name: "list", description: "List the frameworks: connected or not, tasks, CPUs and memory held, outstanding offers" },
  args: jsonArg,
  async run({ args }) {
    const { frameworks: all } = await frameworks();
    printList(
      args.json,
      all,
      ["ID", "NAME", "PRINCIPAL", "STATE", "TASKS", "CPUS", "MEM", "OFFERS"],
      (f) => [f.id, f.name, f.principal ?? "", state(f), f.tasks.length, decimal(f.used_resources.cpus), decimal(f.used_resources.mem), f.offers.length],
      "No frameworks.",
    );
  },
});

const show = defineCommand({
  meta: { name: "show", description: "Show one framework (by id or name) and its tasks" },
  args: { id: { type: "positional", required: true, description: "the framework's id or name" }, ...jsonArg },
  async run({ args }) {
    const { frameworks: all, completed } = await frameworks();
    const f = [...all, ...completed].find((x) => x.id === args.id || x.name === args.id);
    if (!f) throw new CliError(`no framework '${args.id}' in this cluster: see 'dcx framework list'`);
    if (args.json) return printJson(f);
    print(
      fields([
        ["ID", f.id],
        ["Name", f.name],
        ["Principal", f.principal ?? ""],
        ["State", completed.includes(f) ? "torn down" : state(f)],
        ["Roles", (f.roles ?? [f.role]).join(", ")],
        ["User", f.user],
        ["Failover timeout", `${f.failover_timeout} s`],
        ["Registered", new Date(f.registered_time * 1000).toISOString()],
        ["Allocated", `${decimal(f.used_resources.cpus)} cpus, ${decimal(f.used_resources.mem)} MB`],
        ["Offered", `${decimal(f.offered_resources.cpus)} cpus, ${decimal(f.offered_resources.mem)} MB in ${f.offers.length} offers`],
      ]),
    );
    if (f.tasks.length > 0) printList(false, f.tasks, ["TASK", "STATE", "AGENT"], (t) => [t.id, t.state, t.slave_id], "");
  },
});

const teardown = defineCommand({
  meta: { name: "teardown", description: "Tear a framework down: its tasks are killed and it may not subscribe again with its id" },
  args: { id: { type: "positional", required: true, description: "the framework's id (from 'dcx framework list')" } },
  async run({ args }) {
    const s = clusterSession();
    await s.api.request("POST", s.path("/api/v1"), { body: { type: "TEARDOWN", teardown: { framework_id: { value: args.id } } } });
    print(`Tore down framework ${args.id}: its tasks are being killed.`);
  },
});

export const framework = defineCommand({
  meta: { name: "framework", description: "The cluster's frameworks (Marathon, Metronome, Mesos schedulers)" },
  subCommands: { list, show, teardown },
});
