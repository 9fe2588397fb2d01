import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgent } from "../../scripts/lib/agent-process.ts";
import { NODE, ROOT, toolEnv } from "../../scripts/lib/control-plane.ts";
import { type Child, freePort, startChild, waitFor } from "../../scripts/lib/processes.ts";

/** A line of a JavaScript stack trace (`    at fn (file:12:3)`). */
const STACK_FRAME = /^\s*(\[\w+\]\s+)?at .+:\d+:\d+\)?$/m;

interface Local {
  url: string;
  cluster: string;
  token: string;
  dnsUrl: string;
}

/**
 * What a new user does on a fresh clone: `npm start`, then sign up with curl-like calls,
 * create a join token, start a second agent with the documented command, and see both.
 */
describe("npm start", () => {
  const dir = mkdtempSync(join(tmpdir(), "dcx-start-"));
  // The agent runs its tasks as nobody: they must reach their sandboxes in here.
  chmodSync(dir, 0o711);
  let start: Child | undefined;
  let second: AgentProcess | undefined;

  const launch = async (port: number) => {
    const child = startChild(NODE, [join(ROOT, "scripts", "start.ts")], { cwd: ROOT, env: toolEnv({ PORT: String(port), DCX_STATE_DIR: dir }) });
    await waitFor("npm start to print that DCX is running", () => (child.output().includes("DCX is running") ? true : undefined), 90_000, 200).catch((err) => {
      throw new Error(`${String(err)}\n${child.output()}`);
    });
    return child;
  };
  const readLocal = () => JSON.parse(readFileSync(join(dir, ".dcx", "local.json"), "utf8")) as Local;

  afterAll(async () => {
    await second?.stop("SIGKILL");
    // SIGINT, as Ctrl-C: start.ts then stops the control plane and agent it started.
    await start?.stop("SIGINT", 15_000);
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a local cluster with one agent, writes .dcx/local.json, and takes a second agent", async () => {
    const port = await freePort();
    start = await launch(port);
    const local = readLocal();
    expect(local).toMatchObject({ url: `http://127.0.0.1:${port}`, cluster: expect.any(String), token: expect.stringMatching(/^dcxu_/) });
    expect(local.dnsUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/dns/dcxd_[^/]+/dns-query$`));
    expect(statSync(join(dir, ".dcx", "local.json")).mode & 0o077).toBe(0);
    expect(start.output()).toContain(`curl -H "Authorization: Bearer ${local.token}"`);
    // A newcomer's first start is clean, offline too (this machine reaches no Cloudflare host): no stack trace.
    expect(start.output()).not.toMatch(STACK_FRAME);
    const auth = { Authorization: `Bearer ${local.token}` };
    const slaves = async () =>
      ((await (await fetch(`${local.url}/c/${local.cluster}/master/slaves`, { headers: auth })).json()) as { slaves: { hostname: string; active: boolean }[] })
        .slaves;
    expect(await slaves()).toHaveLength(1);

    // A new user signs up and connects a machine of their own, as the README says.
    const signup = await fetch(`${local.url}/auth/signup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "newcomer@example.com", password: "a long passphrase" }),
    });
    expect(signup.status).toBe(201);
    const user = (await signup.json()) as { token: string; cluster: { id: string } };
    const joinToken = (await (
      await fetch(`${local.url}/clusters/${user.cluster.id}/agent-tokens`, { method: "POST", headers: { Authorization: `Bearer ${user.token}` } })
    ).json()) as { token: string };
    second = startAgent({
      master: local.url,
      cluster: user.cluster.id,
      token: joinToken.token,
      workDir: join(dir, "second"),
      hostname: "second",
      resources: "cpus:1;mem:256;disk:512",
    });
    await second.waitForEvent("registered");
    const theirs = (await (await fetch(`${local.url}/c/${user.cluster.id}/master/slaves`, { headers: { Authorization: `Bearer ${user.token}` } })).json()) as {
      slaves: { hostname: string; resources: { cpus: number } }[];
    };
    expect(theirs.slaves).toEqual([expect.objectContaining({ hostname: "second", resources: expect.objectContaining({ cpus: 1, ports: "[31000-32000]" }) })]);
    // The admin's cluster is not affected by the newcomer's agent.
    expect(await slaves()).toHaveLength(1);
  });

  it("Ctrl-C stops everything it started, and a second start keeps the admin, cluster and agent", async () => {
    const before = readLocal();
    const agentId = JSON.parse(readFileSync(join(dir, ".dcx", "agent", "identity.json"), "utf8")).agentId as string;
    expect(await start?.stop("SIGINT", 15_000)).toBe(0);
    await expect(fetch(`${before.url}/health`)).rejects.toThrow();
    const port = await freePort();
    start = await launch(port);
    const after = readLocal();
    expect(after.cluster).toBe(before.cluster);
    // The admin's token of the last start is reused, not a new session minted each start.
    expect(after.token).toBe(before.token);
    expect(start?.output()).not.toMatch(STACK_FRAME);
    expect(after.dnsUrl.split("/dns/")[1]).toBe(before.dnsUrl.split("/dns/")[1]);
    const agents = (await (await fetch(`${after.url}/c/${after.cluster}/agents`, { headers: { Authorization: `Bearer ${after.token}` } })).json()) as {
      agents: { id: string; state: string }[];
    };
    expect(agents.agents.map((a) => a.id)).toEqual([agentId]);
    expect(existsSync(join(dir, ".dcx", "admin.json"))).toBe(true);
  });
});
