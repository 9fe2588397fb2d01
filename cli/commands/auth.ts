import { defineCommand } from "citty";
import { plainTextRefusal } from "../../protocol/index.ts";
import { Api } from "../api.ts";
import { configPath, readConfig, writeConfig } from "../config.ts";
import { UsageError } from "../errors.ts";
import { jsonArg, print, printJson } from "../output.ts";
import { readPassword } from "../prompt.ts";

/** `dcx signup` and `dcx login`: get an API token and keep it, with the control plane's URL, in the config. */

interface User {
  id: string;
  email: string;
}
interface ClusterSummary {
  id: string;
  name: string;
}

const credentialArgs = {
  url: { type: "string", valueHint: "URL", description: "the control plane, e.g. https://dcx.example.workers.dev (default: the one logged in to)" },
  email: { type: "string", valueHint: "EMAIL", description: "your email (login default: the one logged in as)" },
  password: { type: "string", valueHint: "PASSWORD", description: "the password (default: first line of stdin, or asked for)" },
  insecure: { type: "boolean", description: "allow a plain http URL that is not loopback (the password and token cross the network in clear text)" },
  ...jsonArg,
} as const;

/**
 * The control plane URL from the flag or the config, checked and without a trailing slash. A
 * plain http URL to another machine needs `insecure`: the password and the token would cross
 * the network readable by anyone on the path.
 */
function controlPlaneUrl(flag: string | undefined, stored: string | undefined, insecure: boolean): string {
  const raw = flag ?? stored;
  if (!raw) throw new UsageError("--url is required (the control plane, e.g. http://127.0.0.1:8787)");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url: '${raw}' is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url: '${raw}' must be an http or https URL`);
  const plainText = insecure ? undefined : plainTextRefusal(url);
  if (plainText !== undefined) throw new UsageError(`--url: ${plainText}`);
  return url.href.replace(/\/+$/, "");
}

function saved(path: string, user: User, cluster: ClusterSummary | undefined, json: boolean | undefined): void {
  if (json) return printJson({ user, cluster: cluster ?? null, config: path });
  print(`Logged in as ${user.email}. ${cluster ? `Current cluster: ${cluster.name} (${cluster.id}).` : "You belong to no cluster yet."}`);
  print(`Credentials saved in ${path}.`);
}

export const signup = defineCommand({
  meta: { name: "signup", description: "Create an account and its first cluster, and log in" },
  args: credentialArgs,
  async run({ args }) {
    const path = configPath(process.env);
    const insecure = args.insecure === true;
    const url = controlPlaneUrl(args.url, readConfig(path)?.url, insecure);
    if (!args.email) throw new UsageError("--email is required");
    const password = await readPassword(args.password);
    const res = await new Api(url).request<{ user: User; token: string; cluster: ClusterSummary }>("POST", "/auth/signup", {
      body: { email: args.email, password },
    });
    writeConfig(path, { url, token: res.token, cluster: res.cluster.id, email: res.user.email, ...(insecure ? { insecure } : {}) });
    saved(path, res.user, res.cluster, args.json);
  },
});

export const login = defineCommand({
  meta: { name: "login", description: "Log in to a control plane and keep the API token" },
  args: credentialArgs,
  async run({ args }) {
    const path = configPath(process.env);
    const previous = readConfig(path);
    const insecure = args.insecure === true;
    const url = controlPlaneUrl(args.url, previous?.url, insecure);
    const email = args.email ?? (previous?.url === url ? previous.email : undefined);
    if (!email) throw new UsageError("--email is required");
    const password = await readPassword(args.password);
    const res = await new Api(url).request<{ user: User; token: string }>("POST", "/auth/login", { body: { email, password } });
    const { clusters } = await new Api(url, res.token).get<{ clusters: ClusterSummary[] }>("/clusters");
    // Logging in again keeps the cluster chosen with `dcx cluster use`, if it is still one of yours.
    const cluster = clusters.find((c) => previous?.url === url && c.id === previous.cluster) ?? clusters[0];
    writeConfig(path, { url, token: res.token, cluster: cluster?.id, email: res.user.email, ...(insecure ? { insecure } : {}) });
    saved(path, res.user, cluster, args.json);
  },
});
