import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { parseSeconds, passthrough } from "../command.ts";
import { configPath, readConfig } from "../config.ts";
import { jsonArg, print, printJson, printList, shortTime } from "../output.ts";

/** `dcx agent token create|list|revoke` (join tokens of the current cluster) and `dcx agent run` (the agent itself). */

interface TokenInfo {
  id: string;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  status: string;
}

const tokensPath = (cluster: string, id?: string) => `/clusters/${encodeURIComponent(cluster)}/agent-tokens${id ? `/${encodeURIComponent(id)}` : ""}`;

const create = defineCommand({
  meta: { name: "create", description: "Create a join token for agents of the current cluster (shown once)" },
  args: {
    description: { type: "string", valueHint: "TEXT", description: "what the token is for, e.g. 'rack 1'" },
    expires: { type: "string", valueHint: "DURATION", description: "lifetime, e.g. 3600, 90m, 24h, 7d (default: never expires)" },
    ...jsonArg,
  },
  async run({ args }) {
    const s = clusterSession();
    const body = {
      description: args.description,
      expiresInSeconds: args.expires === undefined ? undefined : Math.round(parseSeconds("expires", args.expires)),
    };
    const created = await s.api.request<TokenInfo & { token: string }>("POST", tokensPath(s.cluster), { body });
    if (args.json) return printJson(created);
    print(`Join token ${created.id}${created.expiresAt ? `, expires ${shortTime(created.expiresAt)}` : ""} (shown only now):\n${created.token}`);
    const insecure = s.config.insecure === true ? " --insecure" : "";
    print(`\nOn each machine:\n  dcx agent run --master ${s.config.url}${insecure} --cluster ${s.cluster} --token ${created.token} --work-dir /var/lib/dcx`);
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List the current cluster's join tokens (without their secrets)" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const { tokens } = await s.api.get<{ tokens: TokenInfo[] }>(tokensPath(s.cluster));
    printList(
      args.json,
      tokens,
      ["ID", "STATUS", "CREATED", "EXPIRES", "DESCRIPTION"],
      (t) => [t.id, t.status, shortTime(t.createdAt), shortTime(t.expiresAt), t.description],
      "No join tokens.",
    );
  },
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke a join token: agents can no longer join with it (joined agents stay)" },
  args: { id: { type: "positional", required: true, description: "the token's id (from 'dcx agent token list')" }, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    const { token } = await s.api.request<{ token: TokenInfo }>("DELETE", tokensPath(s.cluster, args.id));
    if (args.json) printJson(token);
    else print(`Revoked join token ${token.id}.`);
  },
});

/**
 * The agent, in this process: `dcx agent run` takes exactly the flags and `DCX_*` variables of
 * `bun agent/main.ts` and hands them to the agent's own entry, which parses them. When this
 * machine is logged in, the control plane and current cluster are the defaults for
 * `--master` and `--cluster` (and `--insecure` when the login accepted a plain-text URL); flags
 * and variables still win.
 */
const run = passthrough(
  defineCommand({
    meta: { name: "run", description: "Run the DCX agent on this machine (see 'dcx agent run --help')" },
    async run({ rawArgs }) {
      const stored = readConfig(configPath(process.env));
      const env = { ...process.env };
      if (stored && !env.DCX_MASTER) {
        env.DCX_MASTER = stored.url;
        // The plain-text URL was accepted with --insecure at login; the agent takes it on that word.
        if (stored.insecure === true && !env.DCX_INSECURE) env.DCX_INSECURE = "1";
      }
      if (stored?.cluster && !env.DCX_CLUSTER) env.DCX_CLUSTER = stored.cluster;
      // Loaded only here: the agent (drivers, outbox, DNS forwarder) is no business of the other commands.
      const { main } = await import("../../agent/main.ts");
      return main(rawArgs, env, "dcx agent run");
    },
  }),
);

export const agent = defineCommand({
  meta: { name: "agent", description: "Join tokens, and the agent itself" },
  subCommands: {
    token: defineCommand({ meta: { name: "token", description: "Join tokens of the current cluster" }, subCommands: { create, list, revoke } }),
    run,
  },
});
