#!/usr/bin/env bun
/**
 * `dcx`, the DCX command line: `bun cli/main.ts ARGS` from a checkout (`npm run dcx -- ARGS`),
 * or the self-contained `dist/dcx` built by `npm run build:binary`. Each command group lives in
 * its own module under commands/, loaded only when named.
 */
import { defineCommand, renderUsage, runCommand } from "citty";
import packageJson from "../package.json" with { type: "json" };
import { checkArguments, isPassthrough, resolveCommand } from "./command.ts";
import { CliError, EXIT, UsageError, errorText } from "./errors.ts";

export const VERSION: string = packageJson.version;

const root = defineCommand({
  meta: {
    name: "dcx",
    version: VERSION,
    description: "The DCX command line: accounts, sessions, clusters, agents, apps, groups, jobs, tasks, DNS, packages, audit",
  },
  subCommands: {
    signup: () => import("./commands/auth.ts").then((m) => m.signup),
    login: () => import("./commands/auth.ts").then((m) => m.login),
    cluster: () => import("./commands/cluster.ts").then((m) => m.cluster),
    agent: () => import("./commands/agent.ts").then((m) => m.agent),
    app: () => import("./commands/app.ts").then((m) => m.app),
    group: () => import("./commands/group.ts").then((m) => m.group),
    task: () => import("./commands/task.ts").then((m) => m.task),
    deployment: () => import("./commands/deployment.ts").then((m) => m.deployment),
    job: () => import("./commands/job.ts").then((m) => m.job),
    node: () => import("./commands/node.ts").then((m) => m.node),
    dns: () => import("./commands/dns.ts").then((m) => m.dns),
    diagnostics: () => import("./commands/diagnostics.ts").then((m) => m.diagnostics),
    logout: () => import("./commands/account.ts").then((m) => m.logout),
    session: () => import("./commands/account.ts").then((m) => m.sessionCommand),
    audit: () => import("./commands/account.ts").then((m) => m.audit),
    package: () => import("./commands/package.ts").then((m) => m.pkg),
    framework: () => import("./commands/framework.ts").then((m) => m.framework),
    "service-account": () => import("./commands/service-account.ts").then((m) => m.serviceAccount),
    secret: () => import("./commands/secret.ts").then((m) => m.secret),
  },
});

/** Runs one command line; resolves with the exit code. Errors are reported here, once. */
export async function run(argv: readonly string[]): Promise<number> {
  let path = ["dcx"];
  try {
    if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
      process.stdout.write(`${VERSION}\n`);
      return EXIT.OK;
    }
    const found = await resolveCommand(root, argv, "dcx");
    path = found.path;
    const usage = async (tty: boolean | undefined) => {
      const text = await renderUsage({ ...found.cmd, meta: { ...(found.cmd.meta as object), name: path.join(" ") } });
      // citty colours its usage whatever the output is; pipes and files get plain text.
      return tty ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
    };
    if (!isPassthrough(found.cmd)) {
      if (found.rest.includes("--help") || found.rest.includes("-h")) {
        process.stdout.write(`${await usage(process.stdout.isTTY)}\n`);
        return EXIT.OK;
      }
      if (found.group) {
        process.stderr.write(`${await usage(process.stderr.isTTY)}\n`);
        return EXIT.USAGE;
      }
      await checkArguments(found.cmd, found.rest);
    }
    const { result } = await runCommand(found.cmd, { rawArgs: found.rest });
    return typeof result === "number" ? result : EXIT.OK;
  } catch (error) {
    return report(error, path);
  }
}

/** Prints `dcx: message` and any detail lines on stderr; returns the exit code the error stands for. */
function report(error: unknown, path: readonly string[]): number {
  // citty's own argument errors (a missing positional, a bad enum value) are usage errors too.
  const usage = error instanceof UsageError || (error instanceof Error && error.name === "CLIError");
  const failure = error instanceof CliError ? error : new CliError(errorText(error), [], usage ? EXIT.USAGE : EXIT.FAILURE);
  process.stderr.write(`dcx: ${failure.message}\n`);
  for (const line of failure.details) process.stderr.write(`  ${line}\n`);
  if (usage) process.stderr.write(`Run '${(error instanceof UsageError && error.helpPath ? error.helpPath : path).join(" ")} --help' for usage.\n`);
  // Anything else is a bug of the CLI: keep its stack for the report.
  else if (!(error instanceof CliError) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return failure.exitCode;
}

if (import.meta.main) process.exit(await run(process.argv.slice(2)));
