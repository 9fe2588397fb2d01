import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import type { DeploymentView } from "../deploy-wait.ts";
import { jsonArg, print, printJson, printList, shortTime } from "../output.ts";

/** `dcx deployment list|rollback`: Marathon deployments in progress. */

/** Why a deployment's instances wait, in a few words. */
function waitingText(d: DeploymentView): string {
  const w = d.waiting;
  if (!w) return "";
  const reasons = Object.entries(w.reasons).map(([reason, n]) => `${reason} (${n})`);
  if (w.delayedUntil) reasons.push(`delayed until ${shortTime(w.delayedUntil)}`);
  return `${w.instances} waiting${reasons.length > 0 ? `: ${reasons.join(", ")}` : ""}`;
}

const list = defineCommand({
  meta: { name: "list", description: "List the deployments in progress" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const deployments = await s.api.get<DeploymentView[]>(s.path("/v2/deployments"));
    printList(
      args.json,
      deployments,
      ["ID", "APPS", "ACTION", "VERSION", "WAITING"],
      (d) => [d.id, d.affectedApps.join(","), (d.currentActions ?? []).map((a) => a.action).join(","), shortTime(d.version), waitingText(d)],
      "No deployments in progress.",
    );
  },
});

const rollback = defineCommand({
  meta: { name: "rollback", description: "Cancel a deployment and return its app to the version before it (as a new deployment)" },
  args: { id: { type: "positional", required: true, description: "the deployment's id" }, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    // 200 with the rollback's DeploymentResult; 202 and no body when nothing was left to roll back to.
    const res = await s.api.request<{ deploymentId: string; version: string } | undefined>("DELETE", s.path(`/v2/deployments/${encodeURIComponent(args.id)}`));
    if (args.json) return printJson({ cancelled: args.id, ...(res ?? {}) });
    print(`Cancelled deployment ${args.id}.${res ? ` Rolling back: deployment ${res.deploymentId}.` : ""}`);
  },
});

export const deployment = defineCommand({
  meta: { name: "deployment", description: "Deployments in progress" },
  subCommands: { list, rollback },
});
