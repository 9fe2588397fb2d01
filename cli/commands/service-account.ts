import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { jsonArg, print, printJson, printList, shortTime } from "../output.ts";

/** `dcx service-account create|list|revoke`: credentials for frameworks on the scheduler API. */

interface AccountInfo {
  id: string;
  principal: string;
  description: string;
  createdAt: string;
  revokedAt: string | null;
  status: string;
}

const accountsPath = (cluster: string, id?: string) => `/clusters/${encodeURIComponent(cluster)}/service-accounts${id ? `/${encodeURIComponent(id)}` : ""}`;

const create = defineCommand({
  meta: { name: "create", description: "Create a service account for a framework (its secret is shown once)" },
  args: {
    principal: { type: "positional", required: true, description: "the framework's principal, e.g. spark" },
    description: { type: "string", valueHint: "TEXT", description: "what it is for" },
    ...jsonArg,
  },
  async run({ args }) {
    const s = clusterSession();
    const created = await s.api.request<AccountInfo & { secret: string }>("POST", accountsPath(s.cluster), {
      body: { principal: args.principal, description: args.description },
    });
    if (args.json) return printJson(created);
    print(`Service account ${created.id} for principal '${created.principal}'; its secret (shown only now):\n${created.secret}`);
    print(
      `\nFrameworks send it as 'Authorization: Bearer <secret>' or HTTP Basic '${created.principal}:<secret>' to\n  ${s.config.url}/c/${s.cluster}/api/v1/scheduler`,
    );
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List the current cluster's service accounts (without their secrets)" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const { serviceAccounts } = await s.api.get<{ serviceAccounts: AccountInfo[] }>(accountsPath(s.cluster));
    printList(
      args.json,
      serviceAccounts,
      ["ID", "PRINCIPAL", "STATUS", "CREATED", "DESCRIPTION"],
      (a) => [a.id, a.principal, a.status, shortTime(a.createdAt), a.description],
      "No service accounts.",
    );
  },
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke a service account: its secret stops working at once" },
  args: { id: { type: "positional", required: true, description: "the account's id (from 'dcx service-account list')" }, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    const { serviceAccount } = await s.api.request<{ serviceAccount: AccountInfo }>("DELETE", accountsPath(s.cluster, args.id));
    if (args.json) printJson(serviceAccount);
    else print(`Revoked service account ${serviceAccount.id} (${serviceAccount.principal}).`);
  },
});

export const serviceAccount = defineCommand({
  meta: { name: "service-account", description: "Credentials for frameworks on the Mesos scheduler API" },
  subCommands: { create, list, revoke },
});
