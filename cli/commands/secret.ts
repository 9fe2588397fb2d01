import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { CliError, errorText } from "../errors.ts";
import { jsonArg, print, printJson, printList, shortTime } from "../output.ts";

/**
 * `dcx secret list|create|update|remove`: the cluster's secret store (DC/OS's
 * `dcos security secrets`). Values are read from a file or stdin, not the command line, where
 * they would land in the shell's history; no command prints one, since no route returns it.
 */

interface SecretInfo {
  path: string;
  createdAt: number;
  updatedAt: number;
}

const storePath = (path: string) => `/secrets/v1/secret/default/${path.split("/").map(encodeURIComponent).join("/")}`;

const valueArgs = {
  path: { type: "positional", required: true, description: "where in the store, e.g. team/db-password" },
  file: { type: "string", valueHint: "FILE", description: "read the value from FILE (default: stdin); one trailing newline is dropped" },
} as const;

/** The value from `file` or stdin, without the one newline an editor or `echo` adds. */
async function readValue(file: string | undefined): Promise<string> {
  let text: string;
  try {
    text = file === undefined || file === "-" ? await Bun.stdin.text() : await Bun.file(file).text();
  } catch (error) {
    throw new CliError(`cannot read ${file ?? "stdin"}: ${errorText(error)}`);
  }
  return text.replace(/\r?\n$/, "");
}

const create = defineCommand({
  meta: { name: "create", description: "Store a secret (value from --file or stdin) for apps to name in their secrets" },
  args: valueArgs,
  async run({ args }) {
    const s = clusterSession();
    await s.api.request("PUT", s.path(storePath(args.path)), { body: { value: await readValue(args.file) } });
    print(`Stored secret ${args.path}. Apps use it as "secrets": {"NAME": {"source": "${args.path}"}}, "env": {"VAR": {"secret": "NAME"}}.`);
  },
});

const update = defineCommand({
  meta: { name: "update", description: "Change a secret's value (new launches get it; running tasks keep theirs)" },
  args: valueArgs,
  async run({ args }) {
    const s = clusterSession();
    await s.api.request("PATCH", s.path(storePath(args.path)), { body: { value: await readValue(args.file) } });
    print(`Changed secret ${args.path}.`);
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List the secrets of the current cluster (paths and times, never values)" },
  args: jsonArg,
  async run({ args }) {
    const s = clusterSession();
    const secrets = await s.api.get<SecretInfo[]>(s.path("/secrets"));
    const time = (ms: number) => shortTime(new Date(ms).toISOString());
    printList(args.json, secrets, ["PATH", "CREATED", "UPDATED"], (x) => [x.path, time(x.createdAt), time(x.updatedAt)], "No secrets.");
  },
});

const remove = defineCommand({
  meta: { name: "remove", description: "Delete a secret (refused while an app names it)" },
  args: { path: { type: "positional", required: true, description: "the secret's path" }, ...jsonArg },
  async run({ args }) {
    const s = clusterSession();
    await s.api.request("DELETE", s.path(storePath(args.path)));
    if (args.json) printJson({ path: args.path, deleted: true });
    else print(`Deleted secret ${args.path}.`);
  },
});

export const secret = defineCommand({
  meta: { name: "secret", description: "The cluster's secret store, for apps' secrets" },
  subCommands: { list, create, update, remove },
});
