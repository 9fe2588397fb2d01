import { rmSync } from "node:fs";
import { defineCommand } from "citty";
import { HttpError, clusterSession, session } from "../api.ts";
import { UsageError } from "../errors.ts";
import { parseCount } from "../command.ts";
import { jsonArg, print, printJson, printList } from "../output.ts";

/** `dcx logout`, `dcx session list|revoke` and `dcx audit`: the account's sessions and the cluster's audit log. */

interface SessionView {
  id: string;
  origin: string;
  address: string;
  userAgent: string;
  createdAt: string;
  expiresAt: string;
  current: boolean;
}

interface AuditView {
  id: string;
  at: string;
  actor: { userId: string | null; tokenId?: string | null };
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
}

export const logout = defineCommand({
  meta: { name: "logout", description: "Revoke this CLI's API token on the control plane and forget it here" },
  args: { ...jsonArg },
  async run({ args }) {
    const s = session();
    try {
      await s.api.request("POST", "/auth/logout");
    } catch (error) {
      // A token the server no longer knows is as good as revoked; anything else is reported, after forgetting it here.
      if (!(error instanceof HttpError && error.status === 401)) {
        rmSync(s.configPath, { force: true });
        throw error;
      }
    }
    rmSync(s.configPath, { force: true });
    if (args.json) printJson({ loggedOut: true, config: s.configPath });
    else print(`Logged out of ${s.config.url}; removed ${s.configPath}.`);
  },
});

const list = defineCommand({
  meta: { name: "list", description: "Your sessions: every API token issued to you (CLI logins, browsers), where from, and which is this one" },
  args: { ...jsonArg },
  async run({ args }) {
    const { sessions } = await session().api.get<{ sessions: SessionView[] }>("/auth/sessions");
    printList(
      args.json,
      sessions,
      ["ID", "ORIGIN", "ADDRESS", "CREATED", "EXPIRES", ""],
      (x) => [x.id, x.origin, x.address, x.createdAt, x.expiresAt, x.current ? "(this one)" : ""],
      "No sessions.",
    );
  },
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke one of your sessions by id (see 'dcx session list')" },
  args: { id: { type: "positional", required: true, description: "the session id" }, ...jsonArg },
  async run({ args }) {
    await session().api.request("DELETE", `/auth/sessions/${encodeURIComponent(args.id)}`);
    if (args.json) printJson({ revoked: args.id });
    else print(`Revoked session ${args.id}.`);
  },
});

export const sessionCommand = defineCommand({
  meta: { name: "session", description: "Your sessions (API tokens): list and revoke" },
  subCommands: { list, revoke },
});

/** A positive whole number from a flag, or a usage error naming it. */
function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = parseCount(`--${name}`, value);
  if (n < 1) throw new UsageError(`--${name}: '${value}' is not a positive whole number`);
  return n;
}

export const audit = defineCommand({
  meta: { name: "audit", description: "The current cluster's audit log, newest first: who changed what (apps, groups, jobs, agents, tokens, settings)" },
  args: {
    limit: { type: "string", valueHint: "N", description: "entries per page (default 50, at most 200)" },
    before: { type: "string", valueHint: "CURSOR", description: "the page after the one that printed this cursor as 'next'" },
    ...jsonArg,
  },
  async run({ args }) {
    const s = clusterSession();
    const page = await s.api.get<{ entries: AuditView[]; next: string | null }>(`/clusters/${encodeURIComponent(s.cluster)}/audit`, {
      limit: positive("limit", args.limit),
      before: args.before,
    });
    if (args.json) return printJson(page);
    const actor = (e: AuditView) => e.actor.userId ?? (e.actor.tokenId ? `token ${e.actor.tokenId}` : "-");
    printList(false, page.entries, ["ID", "AT", "ACTOR", "ACTION", "TARGET"], (e) => [e.id, e.at, actor(e), e.action, e.target ?? ""], "No audit entries.");
    if (page.next !== null) print(`next: dcx audit --before ${page.next}`);
  },
});
