import * as dnsTypes from "@leichtgewicht/dns-packet/types.js";
import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { EXIT } from "../errors.ts";
import { jsonArg, note, print, printJson, table } from "../output.ts";

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

export const dns = defineCommand({
  meta: { name: "dns", description: "Service discovery: Mesos-DNS names of the current cluster" },
  subCommands: { lookup },
});
