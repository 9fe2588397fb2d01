import { strToU8, zipSync, type Zippable } from "fflate";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { DEFAULT_BUNDLE_TIMEOUT_MS, type BundlePart, type NodeDiagnostics } from "../cluster/diagnostics.ts";
import { ApiError, notFound } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { clusterStub } from "../cluster-stub.ts";

/**
 * Diagnostics, as DC/OS's diagnostics service offers them: each node's self-checks
 * (`GET /c/:cluster/diagnostics`, `GET /c/:cluster/agents/:agentId/diagnostics`) and a bundle
 * (`POST /c/:cluster/diagnostics/bundle`): one zip of the cluster's state and every connected
 * agent's checks and recent log lines, collected over the agents' own sockets.
 */

const BundleQuery = z.strictObject({
  timeoutMs: z.coerce.number().int().min(100).max(30_000).default(DEFAULT_BUNDLE_TIMEOUT_MS),
});

const json = (value: unknown) => strToU8(JSON.stringify(value, null, 2) + "\n");

/** A file-name-safe folder for an agent in the bundle: its host name and id. */
function agentFolder(node: { hostname: string; agentId: string }): string {
  return `agents/${node.hostname}_${node.agentId}`.replace(/[^A-Za-z0-9._/-]/g, "_");
}

/** The bundle's files: the cluster's state and diagnostics, and one folder per agent. */
function bundleFiles(state: unknown, nodes: NodeDiagnostics[], parts: BundlePart[], createdAt: Date): Zippable {
  const files: Zippable = {
    "summary.json": json({
      createdAt: createdAt.toISOString(),
      agents: nodes.length,
      unhealthyAgents: nodes.filter((n) => !n.healthy).map((n) => n.agentId),
      answered: parts.filter((p) => "answer" in p).map((p) => p.agentId),
      unanswered: parts.filter((p) => "error" in p).map((p) => ({ agentId: p.agentId, error: "error" in p ? p.error : "" })),
    }),
    "cluster/state.json": json(state),
    "cluster/diagnostics.json": json(nodes),
  };
  const byId = new Map(nodes.map((n) => [n.agentId, n]));
  for (const part of parts) {
    const folder = agentFolder(byId.get(part.agentId) ?? { hostname: "unknown", agentId: part.agentId });
    if ("error" in part) {
      files[`${folder}/error.txt`] = strToU8(`${part.error}\n`);
      continue;
    }
    files[`${folder}/checks.json`] = json(part.answer.checks);
    files[`${folder}/agent.log`] = strToU8(part.answer.logs);
  }
  return files;
}

async function bundle(c: Context<AppEnv>): Promise<Response> {
  const query = BundleQuery.safeParse(c.req.query());
  if (!query.success) throw new ApiError("malformed", `Bad query: ${query.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("; ")}`);
  const cluster = c.get("cluster");
  const stub = clusterStub(c.env, cluster.id);
  const parts = await stub.diagnosticsBundle(query.data.timeoutMs);
  if (parts === undefined)
    throw new ApiError("rate_limited", "Diagnostics bundles are already being collected for this cluster; try again when they are done.", [], {
      "Retry-After": "10",
    });
  const [nodes, snapshot] = await Promise.all([stub.diagnostics(), stub.snapshot()]);
  const createdAt = new Date();
  const zip = zipSync(bundleFiles({ cluster: { id: cluster.id, name: cluster.name }, ...snapshot }, nodes, parts, createdAt), { level: 6 });
  const name = `dcx-bundle-${cluster.id}-${createdAt.toISOString().replace(/[:.]/g, "-")}.zip`;
  return new Response(zip, { headers: { "Content-Type": "application/zip", "Content-Disposition": `attachment; filename="${name}"` } });
}

/** `/c/:cluster/diagnostics`: every node's checks, and bundles. */
export const diagnosticsRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const nodes = await clusterStub(c.env, c.get("cluster").id).diagnostics();
    return c.json({ healthy: nodes.every((n) => n.healthy), nodes });
  })
  .post("/bundle", bundle);

/** `GET /c/:cluster/agents/:agentId/diagnostics`: one node's checks. */
export async function agentDiagnostics(c: Context<AppEnv>): Promise<Response> {
  const agentId = c.req.param("agentId") ?? "";
  const node = (await clusterStub(c.env, c.get("cluster").id).diagnostics()).find((n) => n.agentId === agentId);
  if (node === undefined) throw notFound(`Agent '${agentId}' does not exist.`);
  return c.json(node);
}
