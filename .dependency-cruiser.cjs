/**
 * Import rules that keep DCX's architecture without review (run by `npm run lint`, part of
 * `npm test`). Each rule names the boundary it keeps; test/lint/house-rules.test.ts proves
 * that every rule fails on a file that breaks it.
 * @type {import("dependency-cruiser").IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment:
        "A cycle makes module order matter at load time and hides which side owns what: none anywhere, type-only imports included. One exception: the Cluster object (cluster.ts) and its audited commands (acting.ts), whose methods take the object's own argument types; a type-only import, erased before the code runs.",
      severity: "error",
      from: {},
      to: { circular: true, viaNot: "^control/cluster/acting\\.ts$" },
    },
    {
      name: "drivers-without-wire-protocol",
      comment:
        "Drivers take their own task spec (agent/drivers/task-spec.ts), handed over by the agent from a launch frame, so a driver never imports the wire protocol. Their tests may: some drive the task host with launch frames.",
      severity: "error",
      from: { path: "^agent/drivers/", pathNot: "\\.test\\.ts$" },
      to: { path: "^protocol/" },
    },
    {
      name: "ui-without-api-modules",
      comment: "Pages call the same capability functions and contract schemas as the routes; they never import a route module (control/api/).",
      severity: "error",
      from: { path: "^control/ui/" },
      to: { path: "^control/api/" },
    },
    {
      name: "capabilities-below-routes",
      comment:
        "The Durable Object, the accounts, DNS, packages, operations and contract modules sit below the HTTP layer: the routes (control/api/) import them, never the reverse, so a page that imports them never reaches a route module either.",
      severity: "error",
      from: { path: "^control/(cluster|accounts|dns|packages|operations|contract)/" },
      to: { path: "^control/api/" },
    },
    {
      name: "contract-is-shared-not-dependent",
      comment: "The HTTP contract's schemas (control/contract/) are imported by the API, the UI and the Cluster object; they import none of them.",
      severity: "error",
      from: { path: "^control/contract/" },
      to: { path: "^control/(api|ui|http)/" },
    },
    {
      name: "protocol-is-neutral",
      comment: "The wire protocol is imported by both the control plane and the agent; it imports neither.",
      severity: "error",
      from: { path: "^protocol/" },
      to: { path: "^(agent|control|cli)/" },
    },
    {
      name: "agent-apart-from-control-plane",
      comment: "The agent runs on other machines and talks to the control plane over the wire only.",
      severity: "error",
      from: { path: "^agent/" },
      to: { path: "^control/" },
    },
    {
      name: "control-plane-apart-from-agent-and-cli",
      comment: "The Worker bundle must not pull in Bun-only agent or CLI code.",
      severity: "error",
      from: { path: "^control/" },
      to: { path: "^(agent|cli)/" },
    },
    {
      name: "resolvable",
      comment: "An import that resolves to nothing is a typo or a deleted module.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true, dependencyTypesNot: ["core"], pathNot: "^(bun|bun:.*|cloudflare:.*)$" },
    },
  ],
  options: {
    // Type-only imports count: a driver importing a protocol type is still coupled to the wire.
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|\\.wrangler|dist)/" },
    enhancedResolveOptions: {
      extensions: [".ts", ".tsx", ".js", ".mjs", ".cjs", ".d.ts"],
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "bun", "workerd", "worker", "browser", "types", "default"],
      mainFields: ["module", "main", "types"],
    },
  },
};
