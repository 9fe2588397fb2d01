import * as dnsTypes from "@leichtgewicht/dns-packet/types.js";
import { defineCommand } from "citty";
import { vipRangeProblem } from "../../protocol/vips.ts";
import { clusterSession } from "../api.ts";
import { parseCount } from "../command.ts";
import { EXIT, UsageError } from "../errors.ts";
import { jsonArg, note, print, printJson, printList, table } from "../output.ts";

/** `dcx dns lookup`: asks the cluster's DNS-over-HTTPS endpoint (JSON dialect), as a member. */

interface JsonRecord {
  name: string;
  type: number;
  TTL: number;
  data: string;
}
interface JsonResponse {
  Status: number;
  Answer?: JsonRecord[];
  Additional?: JsonRecord[];
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

const rows = (records: JsonRecord[]) => records.map((r) => [r.name, dnsTypes.toString(r.type), r.TTL, r.data]);

const lookup = defineCommand({
  meta: { name: "lookup", description: "Resolve a name, e.g. web.marathon.mesos, as tasks of the cluster see it" },
  args: {
    name: { type: "positional", required: true, description: "the name to resolve" },
    type: { type: "positional", required: false, default: "A", description: "record type: A, AAAA, SRV, TXT, … or a number" },
    ...jsonArg,
  },
  async run({ args }) {
    const s = clusterSession();
    const res = await s.api.get<JsonResponse>(s.path("/dns-query"), { name: args.name, type: args.type });
    const status = RCODES[res.Status] ?? `RCODE ${res.Status}`;
    if (args.json) printJson(res);
    else if (res.Answer?.length) {
      print(table(["NAME", "TYPE", "TTL", "DATA"], rows([...res.Answer, ...(res.Additional ?? [])])));
    } else if (res.Status === 0) note(`No ${args.type.toUpperCase()} records for ${args.name}.`);
    // Like host(1): a name that does not resolve is a failure for scripts, whatever the output format.
    if (res.Status === 0) return EXIT.OK;
    if (!args.json) note(`dcx: ${args.name}: ${status}`);
    return EXIT.FAILURE;
  },
});

interface Settings {
  zone: string;
  ttl: number;
  vipRange: string;
}

/** The fields of a settings change, checked here as the API checks them, so a typo costs no round trip. */
function settingsChange(args: { zone?: string; ttl?: string; "vip-range"?: string }): Partial<Settings> {
  const change: Partial<Settings> = {};
  if (args.zone !== undefined) change.zone = args.zone;
  if (args.ttl !== undefined) change.ttl = parseCount("--ttl", args.ttl);
  const range = args["vip-range"];
  if (range !== undefined) {
    const problem = vipRangeProblem(range);
    if (problem !== undefined) throw new UsageError(`--vip-range: ${problem}`);
    change.vipRange = range;
  }
  return change;
}

const settings = defineCommand({
  meta: { name: "settings", description: "Show the DNS zone, TTL and VIP range; change them with --zone, --ttl, --vip-range" },
  args: {
    zone: { type: "string", valueHint: "NAME", description: "the cluster's zone, e.g. mesos" },
    ttl: { type: "string", valueHint: "SECONDS", description: "TTL of every answer (0–86400)" },
    "vip-range": {
      type: "string",
      valueHint: "CIDR",
      description: "where named VIPs get their addresses, e.g. 11.0.0.0/8 (every agent must be root) or 127.11.0.0/16",
    },
    ...jsonArg,
  },
  async run({ args }) {
    const s = clusterSession();
    const change = settingsChange(args);
    const now =
      Object.keys(change).length === 0 ? await s.api.get<Settings>(s.path("/dns")) : await s.api.request<Settings>("PATCH", s.path("/dns"), { body: change });
    if (args.json) printJson(now);
    else print(table(["ZONE", "TTL", "VIP RANGE"], [[now.zone, now.ttl, now.vipRange]]));
    return EXIT.OK;
  },
});

interface VipJson {
  name: string;
  ip: string;
  port: number;
  backends: { host: string; port: number; draining: boolean }[];
}

const vips = defineCommand({
  meta: { name: "vips", description: "The named VIPs (VIP_n port labels) every agent balances, and their backends" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const { vips: list } = await s.api.get<{ vips: VipJson[] }>(s.path("/vips"));
    printList(
      args.json,
      list,
      ["NAME", "ADDRESS", "BACKENDS"],
      (v) => [v.name, `${v.ip}:${v.port}`, v.backends.map((b) => `${b.host}:${b.port}${b.draining ? " (draining)" : ""}`).join(", ")],
      'No VIPs: label an app\'s port, e.g. portDefinitions: [{"port": 0, "labels": {"VIP_0": "/web:80"}}].',
    );
    return EXIT.OK;
  },
});

export const dns = defineCommand({
  meta: { name: "dns", description: "Service discovery: Mesos-DNS names, DNS settings and VIPs of the current cluster" },
  subCommands: { lookup, settings, vips },
});
