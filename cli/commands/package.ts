import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { CliError, UsageError } from "../errors.ts";
import { parseCount } from "../command.ts";
import { readJsonObject } from "../input.ts";
import { fields, jsonArg, note, print, printJson, printList, truncate } from "../output.ts";

/** `dcx package …`: the cluster's catalog through Cosmos's API (`/package/*`), as `dcos package` does. */

interface SearchEntry {
  name: string;
  currentVersion: string;
  versions: Record<string, string>;
  description: string;
  framework: boolean;
  selected: boolean;
  tags: string[];
}
interface PackageView {
  name: string;
  version: string;
  maintainer: string;
  description: string;
  tags: string[];
  website?: string;
  framework?: boolean;
  preInstallNotes?: string;
  postInstallNotes?: string;
  config?: Schema;
}
interface Schema {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Installed {
  appId: string;
  packageInformation: { packageDefinition: { name: string; version: string; description?: string } };
}

const call = <T>(endpoint: string, body: unknown) => {
  const s = clusterSession();
  return s.api.request<T>("POST", s.path(`/package/${endpoint}`), { body });
};

/**
 * Every leaf option of a config schema as `[path, type, default, required]`, for people to
 * read. Required: its object requires it and it has no default (the defaults always create the
 * enclosing objects, as Cosmos's do).
 */
export function optionRows(schema: Schema | undefined, prefix = ""): string[][] {
  const rows: string[][] = [];
  for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    const isRequired = (schema?.required ?? []).includes(name);
    if (prop.properties) rows.push(...optionRows(prop, path));
    else
      rows.push([
        path,
        prop.type ?? "",
        prop.default === undefined ? "" : JSON.stringify(prop.default),
        isRequired && prop.default === undefined ? "required" : "",
      ]);
  }
  return rows;
}

const search = defineCommand({
  meta: { name: "search", description: "Search the catalog by name, description or tag ('*' is a wildcard)" },
  args: { query: { type: "positional", required: false, description: "words to look for; all packages when omitted" }, ...jsonArg },
  async run({ args }) {
    const { packages } = await call<{ packages: SearchEntry[] }>("search", { query: args.query ?? "" });
    printList(
      args.json,
      packages,
      ["NAME", "VERSION", "SELECTED", "FRAMEWORK", "DESCRIPTION"],
      (p) => [p.name, p.currentVersion, p.selected, p.framework, truncate(p.description, 70)],
      "No packages match.",
    );
  },
});

const describe = defineCommand({
  meta: { name: "describe", description: "Show a package: its description, notes, versions and options" },
  args: {
    name: { type: "positional", required: true, description: "the package name" },
    "package-version": { type: "string", description: "a version other than the newest" },
    config: { type: "boolean", description: "print only the package's config schema (JSON)" },
    ...jsonArg,
  },
  async run({ args }) {
    const body = { packageName: args.name, packageVersion: args["package-version"] };
    const { package: pkg } = await call<{ package: PackageView }>("describe", body);
    if (args.config) return printJson(pkg.config ?? {});
    if (args.json) return printJson(pkg);
    const { results } = await call<{ results: Record<string, string> }>("list-versions", { packageName: args.name, includePackageVersions: true });
    print(
      fields([
        ["Name", pkg.name],
        ["Version", pkg.version],
        ["Versions", Object.keys(results).join(", ")],
        ["Maintainer", pkg.maintainer],
        ["Website", pkg.website],
        ["Tags", pkg.tags.join(", ")],
        ["Description", pkg.description],
      ]),
    );
    if (pkg.preInstallNotes) print(`\nBefore installing: ${pkg.preInstallNotes}`);
    const rows = optionRows(pkg.config);
    if (rows.length > 0) {
      print("\nOptions (give them in a JSON file with --options):");
      printList(false, rows, ["OPTION", "TYPE", "DEFAULT", "REQUIRED"], (r) => r, "");
    }
  },
});

/** Asks before installing, as `dcos package install` does; `--yes`, or no terminal to ask on, needs no answer. */
async function confirmed(notes: string | undefined, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new UsageError("confirm the install with --yes (no terminal to ask on)");
  if (notes) note(notes);
  process.stderr.write("Continue installing? [yes/no] ");
  for await (const line of console) return /^y(es)?$/i.test(line.trim());
  return false;
}

const install = defineCommand({
  meta: { name: "install", description: "Install a package: render it with your options and deploy its app (or job)" },
  args: {
    name: { type: "positional", required: true, description: "the package name" },
    "package-version": { type: "string", description: "a version other than the newest" },
    options: { type: "string", description: "a JSON file of options, merged over the package's defaults ('-' for stdin)" },
    "app-id": { type: "string", description: "the app id to install as (so one package can be installed twice)" },
    yes: { type: "boolean", description: "do not ask for confirmation" },
    ...jsonArg,
  },
  async run({ args }) {
    const options = args.options ? await readJsonObject(args.options, "options object") : undefined;
    const body = { packageName: args.name, packageVersion: args["package-version"], options, appId: args["app-id"] };
    const { package: pkg } = await call<{ package: PackageView }>("describe", { packageName: args.name, packageVersion: args["package-version"] });
    if (!(await confirmed(pkg.preInstallNotes, Boolean(args.yes || args.json)))) throw new CliError("not installed");
    const result = await call<{ packageName: string; packageVersion: string; appId?: string; postInstallNotes?: string }>("install", body);
    if (args.json) return printJson(result);
    print(`Installed ${result.packageName} ${result.packageVersion}${result.appId ? ` as ${result.appId}` : ""}.`);
    if (result.postInstallNotes) print(result.postInstallNotes);
  },
});

const update = defineCommand({
  meta: { name: "update", description: "Update an installed package in place: new options (merged over the stored ones) or another version" },
  args: {
    appId: { type: "positional", required: true, description: "the installed app's id" },
    options: { type: "string", description: "a JSON file of options, merged over the stored ones ('-' for stdin)" },
    "package-version": { type: "string", description: "move to this version (one the package allows)" },
    replace: { type: "boolean", description: "replace the stored options instead of merging over them" },
    ...jsonArg,
  },
  async run({ args }) {
    const options = args.options ? await readJsonObject(args.options, "options object") : undefined;
    const s = clusterSession();
    const body = { appId: args.appId, options, packageVersion: args["package-version"], replace: Boolean(args.replace) };
    const result = await s.api.request<{ package: { name: string; version: string }; marathonDeploymentId: string }>("POST", s.path("/cosmos/service/update"), {
      body,
    });
    if (args.json) return printJson(result);
    print(`Updating ${args.appId} to ${result.package.name} ${result.package.version} (deployment ${result.marathonDeploymentId}).`);
  },
});

const uninstall = defineCommand({
  meta: { name: "uninstall", description: "Uninstall a package: remove the app (or job) it installed" },
  args: {
    name: { type: "positional", required: true, description: "the package name" },
    "app-id": { type: "string", description: "which install, when the package is installed more than once" },
    all: { type: "boolean", description: "remove every install of the package" },
    ...jsonArg,
  },
  async run({ args }) {
    const result = await call<{ results: { appId: string; packageVersion: string; postUninstallNotes?: string }[] }>("uninstall", {
      packageName: args.name,
      appId: args["app-id"],
      all: args.all || undefined,
    });
    if (args.json) return printJson(result);
    for (const r of result.results)
      print(`Uninstalled ${args.name} ${r.packageVersion} (${r.appId}).${r.postUninstallNotes ? ` ${r.postUninstallNotes}` : ""}`);
  },
});

const list = defineCommand({
  meta: { name: "list", description: "List installed packages (read from the apps' DCOS_PACKAGE_* labels)" },
  args: {
    name: { type: "positional", required: false, description: "only this package" },
    "app-id": { type: "string", description: "only this app" },
    ...jsonArg,
  },
  async run({ args }) {
    const { packages } = await call<{ packages: Installed[] }>("list", { packageName: args.name, appId: args["app-id"] });
    printList(
      args.json,
      packages,
      ["NAME", "VERSION", "APP"],
      (p) => [p.packageInformation.packageDefinition.name, p.packageInformation.packageDefinition.version, p.appId],
      "No packages installed.",
    );
  },
});

type Repos = { repositories: { name: string; uri: string }[] };
const printRepos = (json: boolean | undefined, r: Repos) => printList(json, r.repositories, ["NAME", "URI"], (x) => [x.name, x.uri], "No repositories.");

const repo = defineCommand({
  meta: { name: "repo", description: "The cluster's package repositories, searched in order" },
  subCommands: {
    list: defineCommand({
      meta: { name: "list", description: "List the repositories in the order they are searched" },
      args: jsonArg,
      async run({ args }) {
        printRepos(args.json, await call<Repos>("repository/list", {}));
      },
    }),
    add: defineCommand({
      meta: { name: "add", description: "Add a Universe repository by URL (fetched and checked first)" },
      args: {
        name: { type: "positional", required: true, description: "a name for the repository" },
        uri: { type: "positional", required: true, description: "its URL (a Universe JSON repository, v3 to v5)" },
        index: { type: "string", description: "its place in the search order (0 is first; default last)" },
        ...jsonArg,
      },
      async run({ args }) {
        const index = args.index === undefined ? undefined : parseCount("--index", args.index);
        printRepos(args.json, await call<Repos>("repository/add", { name: args.name, uri: args.uri, index }));
      },
    }),
    remove: defineCommand({
      meta: { name: "remove", description: "Remove a repository by name" },
      args: { name: { type: "positional", required: true, description: "the repository's name" }, ...jsonArg },
      async run({ args }) {
        printRepos(args.json, await call<Repos>("repository/delete", { name: args.name }));
      },
    }),
  },
});

export const pkg = defineCommand({
  meta: { name: "package", description: "Install services from the catalog: search, describe, install, update, list, uninstall; repositories" },
  subCommands: { search, describe, install, update, uninstall, list, repo },
});
