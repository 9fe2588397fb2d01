import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUN, ROOT, toolEnv } from "../../scripts/lib/control-plane.ts";
import { type Child, run, startChild, waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface App {
  id: string;
  instances: number;
  tasksRunning: number;
  deployments: { id: string }[];
}
interface Task {
  id: string;
  appId: string;
  state: string;
  host: string;
}

const CLI = join(ROOT, "cli", "main.ts");
const BINARY = join(ROOT, "dist", "dcx");
const EMAIL = `cli-${Date.now()}@example.com`;
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const PASSWORD = "correct horse battery staple";

/**
 * The `dcx` CLI end to end: every command run as a child process (`bun cli/main.ts`, as
 * `npm run dcx` does) against the control plane on workerd, with `dcx agent run` as the
 * cluster's real agent, and the compiled binary from `npm run build:binary`.
 */
describe("the dcx CLI against a local control plane", () => {
  const cluster = new TestCluster();
  const config = () => join(cluster.dir, "home", "dcx.json");
  let agent: Child | undefined;

  /** Runs the CLI (or another executable given as `bin`) with this test's config file; resolves with its exit code and output. */
  function dcx(args: string[], options: { stdin?: string; bin?: string } = {}): Promise<Result> {
    const proc = spawn(options.bin ?? BUN, options.bin ? args : [CLI, ...args], {
      cwd: ROOT,
      env: toolEnv({ DCX_CONFIG: config(), NO_COLOR: "1" }),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end(options.stdin ?? "");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 100_000);
    return new Promise((resolve) =>
      proc.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      }),
    );
  }

  /** Runs a command with `--json`, expects success, and parses what it printed. */
  async function dcxJson<T>(args: string[], stdin?: string): Promise<T> {
    const r = await dcx([...args, "--json"], { stdin });
    expect(r.code, `dcx ${args.join(" ")}\n${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as T;
  }

  const file = (name: string, app: unknown) => {
    const path = join(cluster.dir, name);
    writeFileSync(path, JSON.stringify(app));
    return path;
  };
  const apps = () => dcxJson<App[]>(["app", "list"]);

  beforeAll(async () => {
    await cluster.start();
  });
  afterAll(async () => {
    await agent?.stop("SIGTERM", 10_000);
    await cluster.stop();
  });

  it("prints its version, and refuses bad usage with exit code 2", async () => {
    const version = await dcx(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(VERSION);
    const unknown = await dcx(["app", "add", "x.json", "--no-wiat"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--no-wiat'");
    const missing = await dcx(["app", "scale", "web"]);
    expect(missing.code).toBe(2);
    expect((await dcx(["nonsense"])).code).toBe(2);
    const notLoggedIn = await dcx(["app", "list"]);
    expect(notLoggedIn.code).toBe(1);
    expect(notLoggedIn.stderr).toContain("not logged in");
  });

  it("signs up with the password on stdin and keeps the credentials in a 0600 file", async () => {
    const out = await dcxJson<{ user: { email: string }; cluster: { id: string } }>(["signup", "--url", cluster.url, "--email", EMAIL], `${PASSWORD}\n`);
    expect(out.user.email).toBe(EMAIL);
    expect(statSync(config()).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(config(), "utf8")) as { url: string; token: string; cluster: string };
    expect(stored).toMatchObject({ url: cluster.url, cluster: out.cluster.id });
    cluster.token = stored.token;
    cluster.clusterId = stored.cluster;
  });

  it("logs in again, and reports a wrong password with the server's message", async () => {
    const before = JSON.parse(readFileSync(config(), "utf8")) as { token: string };
    const out = await dcxJson<{ user: { email: string }; cluster: { id: string } }>(["login", "--password", PASSWORD]);
    expect(out).toMatchObject({ user: { email: EMAIL }, cluster: { id: cluster.clusterId } });
    const after = JSON.parse(readFileSync(config(), "utf8")) as { token: string };
    expect(after.token).not.toBe(before.token);
    cluster.token = after.token;
    const wrong = await dcx(["login", "--email", EMAIL], { stdin: "not the password\n" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("Invalid email or password. (HTTP 401)");
  });

  it("lists clusters and switches the current one", async () => {
    const second = (await cluster.api<{ cluster: { id: string } }>("POST", "/clusters", { name: "second" })).cluster.id;
    const list = await dcxJson<{ id: string; current: boolean }[]>(["cluster", "list"]);
    expect(list.map((c) => [c.id, c.current])).toEqual([
      [cluster.clusterId, true],
      [second, false],
    ]);
    expect((await dcxJson<{ id: string }>(["cluster", "use", "second"])).id).toBe(second);
    expect((await dcx(["cluster", "list"])).stdout).toMatch(new RegExp(`^\\*\\s+${second}\\s+second\\s+owner`, "m"));
    const unknown = await dcx(["cluster", "use", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no cluster of yours has the id or name 'nope'");
    await dcxJson(["cluster", "use", cluster.clusterId]);
  });

  it("creates, lists and revokes agent join tokens", async () => {
    const created = await dcxJson<{ id: string; token: string; status: string }>(["agent", "token", "create", "--description", "spare", "--expires", "1h"]);
    expect(created.token).toMatch(/^dcxj_/);
    const listed = await dcxJson<{ id: string; status: string; description: string; expiresAt: string }[]>(["agent", "token", "list"]);
    expect(listed.find((t) => t.id === created.id)).toMatchObject({ status: "active", description: "spare" });
    expect(await dcxJson<{ status: string }>(["agent", "token", "revoke", created.id])).toMatchObject({ status: "revoked" });
    expect((await dcx(["agent", "token", "list"])).stdout).toMatch(new RegExp(`^${created.id}\\s+revoked`, "m"));
  });

  it("runs the agent with `dcx agent run`, the control plane and cluster taken from the login", async () => {
    const { token } = await dcxJson<{ token: string }>(["agent", "token", "create"]);
    const args = ["agent", "run", "--token", token, "--work-dir", join(cluster.dir, "cli-agent"), "--hostname", "cli-node", "--advertise-ip", "127.0.0.2"];
    args.push(
      "--resources",
      "cpus:2;mem:2048;disk:1024;ports:[31000-31099]",
      "--attributes",
      "rack:r1",
      "--backoff-max-ms",
      "1000",
      "--kill-tasks-on-exit",
      "--docker-socket",
      "none",
    );
    agent = startChild(BUN, [CLI, ...args], { cwd: ROOT, env: toolEnv({ DCX_CONFIG: config() }) });
    const nodes = await waitFor(
      `the agent in dcx node list\n${agent.output()}`,
      async () => {
        const list = await dcxJson<{ hostname: string; active: boolean; resources: { cpus: number } }[]>(["node", "list"]);
        return list.some((n) => n.hostname === "cli-node" && n.active) ? list : undefined;
      },
      30_000,
      300,
    );
    expect(nodes).toHaveLength(1);
    expect(nodes[0]?.resources.cpus).toBe(2);
    expect((await dcx(["node", "list"])).stdout).toMatch(/^\S+\s+cli-node\s+active\s+\*\s+0\/2\s+0\/2048\s+rack:r1$/m);
  });

  it("adds an app and waits for its deployment, showing progress", async () => {
    const r = await dcx(["app", "add", file("web.json", { id: "/web", cmd: "sleep 600", cpus: 0.1, mem: 16, instances: 2 })]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\/web: deployment \S+ started/);
    expect(r.stdout).toContain("/web: deployed, 2/2 running");
    expect((await apps()).find((a) => a.id === "/web")).toMatchObject({ instances: 2, tasksRunning: 2, deployments: [] });
    const table = (await dcx(["app", "list"])).stdout;
    expect(table).toMatch(/^ID\s+RUNNING\s+HEALTHY\s+CPUS\s+MEM\s+DEPLOYMENT\s+CONTAINER\s+CMD$/m);
    expect(table).toMatch(/^\/web\s+2\/2\s+-\s+0\.1\s+16\s+-\s+MESOS\s+sleep 600$/m);
    expect(await dcxJson<App>(["app", "show", "web"])).toMatchObject({ id: "/web", tasksRunning: 2 });
    expect((await dcx(["app", "show", "/web"])).stdout).toMatch(/^running:\s+2$/m);
  });

  it("adds an app from stdin without waiting", async () => {
    const out = await dcxJson<{ id: string; deploymentId: string }>(
      ["app", "add", "-", "--no-wait"],
      JSON.stringify({ id: "/piped", cmd: "sleep 600", cpus: 0.1, mem: 16 }),
    );
    expect(out.id).toBe("/piped");
    expect(out.deploymentId).toBeTruthy();
  });

  it("fails with the server's message and field paths for an invalid app (422)", async () => {
    const r = await dcx(["app", "add", file("bad.json", { id: "/bad", cmd: "sleep 1", cpus: -1, instances: "two" })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("dcx: Object is not valid (HTTP 422)");
    expect(r.stderr).toMatch(/^ {2}\/cpus: /m);
    expect(r.stderr).toMatch(/^ {2}\/instances: /m);
    const conflict = await dcx(["app", "add", join(cluster.dir, "web.json")]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain("An app with id [/web] already exists. (HTTP 409)");
  });

  it("scales, updates and restarts an app, each waiting for its deployment", async () => {
    const scaled = await dcx(["app", "scale", "/web", "3"]);
    expect(scaled.code, scaled.stderr).toBe(0);
    expect(scaled.stdout).toContain("/web: deployed, 3/3 running");
    const updated = await dcxJson<{ id: string; version: string }>([
      "app",
      "update",
      file("web2.json", { id: "/web", cmd: "sleep 700", cpus: 0.1, mem: 16, instances: 2 }),
    ]);
    expect(updated.id).toBe("/web");
    const tasks = await dcxJson<Task[]>(["task", "list", "--app", "web"]);
    expect(tasks).toHaveLength(2);
    expect(tasks.every((t) => t.state === "TASK_RUNNING" && t.host === "cli-node")).toBe(true);
    const restarted = await dcx(["app", "restart", "web"]);
    expect(restarted.code, restarted.stderr).toBe(0);
    const after = await dcxJson<Task[]>(["task", "list", "--app", "/web"]);
    expect(after.map((t) => t.id).some((id) => tasks.some((t) => t.id === id))).toBe(false);
  });

  it("lists and kills tasks, with and without --scale", async () => {
    const all = await dcxJson<Task[]>(["task", "list"]);
    expect(new Set(all.map((t) => t.appId))).toEqual(new Set(["/web", "/piped"]));
    expect((await dcx(["task", "list"])).stdout).toMatch(/^ID\s+APP\s+STATE\s+HEALTH\s+HOST\s+PORTS\s+STARTED$/m);
    const [victim] = all.filter((t) => t.appId === "/web");
    expect((await dcxJson<{ killed: string[] }>(["task", "kill", victim?.id ?? ""])).killed).toEqual([victim?.id]);
    await waitFor(
      "/web to replace the killed task",
      async () => {
        const tasks = await dcxJson<Task[]>(["task", "list", "--app", "/web"]);
        return tasks.length === 2 && !tasks.some((t) => t.id === victim?.id) && tasks.every((t) => t.state === "TASK_RUNNING") ? tasks : undefined;
      },
      30_000,
      300,
    );
    const [piped] = all.filter((t) => t.appId === "/piped");
    const scaled = await dcxJson<{ deploymentId?: string }>(["task", "kill", "--scale", piped?.id ?? ""]);
    expect(scaled.deploymentId).toBeTruthy();
    await waitFor("/piped to be scaled to 0", async () => ((await apps()).find((a) => a.id === "/piped")?.instances === 0 ? true : undefined), 10_000, 300);
    const unknown = await dcx(["task", "kill", "web.nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("Task 'web.nope' does not exist");
  });

  it("gives up on a deployment that cannot finish, saying why; lists it and rolls it back", async () => {
    const r = await dcx(["app", "add", file("big.json", { id: "/big", cmd: "sleep 600", cpus: 100, mem: 16 }), "--timeout", "3"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/dcx: deployment \S+ of \/big did not finish within 3 s \(0\/1 running, waiting: /);
    expect(r.stderr).toMatch(/^\/big: 0\/1 running, waiting: /m);
    expect(r.stderr).toMatch(/instances waited for: .*insufficient cpus/);
    expect(r.stderr).toContain("dcx deployment rollback");
    const deployments = await dcxJson<{ id: string; affectedApps: string[] }[]>(["deployment", "list"]);
    const big = deployments.find((d) => d.affectedApps.includes("/big"));
    expect(big).toBeDefined();
    expect((await dcx(["deployment", "list"])).stdout).toMatch(new RegExp(`^${big?.id}\\s+/big\\s+ScaleApplication`, "m"));
    const rolled = await dcxJson<{ cancelled: string; deploymentId?: string }>(["deployment", "rollback", big?.id ?? ""]);
    expect(rolled.cancelled).toBe(big?.id);
    await waitFor("/big to be gone", async () => ((await apps()).some((a) => a.id === "/big") ? undefined : true), 10_000, 300);
    const again = await dcx(["deployment", "rollback", big?.id ?? ""]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("does not exist (HTTP 404)");
  });

  it("stops waiting on an app whose tasks keep failing, with the failure's reason", async () => {
    // A program that cannot start fails the task before RUNNING, so the deployment never ends by itself.
    const r = await dcx(["app", "add", file("crash.json", { id: "/crash", args: ["dcx-no-such-program"], cpus: 0.1, mem: 16 }), "--timeout", "60"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/dcx: deployment \S+ of \/crash is failing: 3 tasks failed since it started/);
    expect(r.stderr).toMatch(/last failure: crash\S* TASK_FAILED: cannot start 'dcx-no-such-program'/);
    const removed = await dcx(["app", "remove", "/crash", "--force"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain("/crash: removed");
  });

  it("looks names up over the cluster's DNS-over-HTTPS endpoint", async () => {
    const a = await dcxJson<{ Status: number; Answer: { data: string; type: number }[] }>(["dns", "lookup", "web.marathon.mesos"]);
    expect(a.Status).toBe(0);
    expect(a.Answer.length).toBeGreaterThan(0);
    expect(a.Answer.every((x) => x.data === "127.0.0.2")).toBe(true);
    const srv = await dcx(["dns", "lookup", "_web._tcp.marathon.mesos", "SRV"]);
    expect(srv.code, srv.stderr).toBe(0);
    expect(srv.stdout).toMatch(/^_web\._tcp\.marathon\.mesos\.\s+SRV\s+\d+\s+\d+ \d+ 310\d\d \S+$/m);
    const missing = await dcx(["dns", "lookup", "nope.marathon.mesos"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope.marathon.mesos: NXDOMAIN");
  });

  it("adds a job, runs it, and lists jobs and runs with how each ended", async () => {
    const spec = file("job.json", {
      id: "ops.hello",
      run: { cmd: "echo hello; exit 3", cpus: 0.1, mem: 32 },
      schedules: [{ id: "nightly", cron: "30 2 * * *", timezone: "Europe/Berlin" }],
    });
    expect((await dcxJson<{ id: string }>(["job", "add", spec])).id).toBe("ops.hello");
    const again = await dcx(["job", "add", spec]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("HTTP 409");
    const started = await dcxJson<{ id: string; jobId: string }>(["job", "run", "ops.hello"]);
    expect(started.jobId).toBe("ops.hello");
    const runs = await waitFor(
      "the run to fail",
      async () => {
        const r = await dcxJson<{ id: string; status: string; taskResults?: { message?: string }[] }[]>(["job", "runs", "ops.hello"]);
        return r[0]?.status === "FAILED" ? r : undefined;
      },
      30_000,
      200,
    );
    expect(runs[0]?.id).toBe(started.id);
    const table = await dcx(["job", "runs", "ops.hello"]);
    expect(table.stdout).toMatch(new RegExp(`^${started.id}\\s+FAILED\\s.*exited with code 3`, "m"));
    const jobs = await dcx(["job", "list"]);
    expect(jobs.stdout).toMatch(/^ops\.hello\s+30 2 \* \* \* Europe\/Berlin\s/m);
    const removed = await dcx(["job", "remove", "ops.hello"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await dcxJson<unknown[]>(["job", "list"])).toEqual([]);
  });

  it("removes an app and waits until its tasks are gone", async () => {
    const r = await dcx(["app", "remove", "web"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("/web: removed");
    expect((await apps()).map((a) => a.id)).not.toContain("/web");
    expect(await dcxJson<Task[]>(["task", "list", "--app", "/piped"])).toEqual([]);
    const gone = await dcx(["app", "show", "web"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("App '/web' does not exist (HTTP 404)");
  });

  it("builds one self-contained executable that runs dcx --version and dcx app list", async () => {
    await run("npm", ["run", "build:binary"], { cwd: ROOT, env: toolEnv() });
    const version = await dcx(["--version"], { bin: BINARY });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(VERSION);
    const table = await dcx(["app", "list"], { bin: BINARY });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^\/piped\s+0\/0\s/m);
    const list = await dcx(["app", "list", "--json"], { bin: BINARY });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as App[]).map((a) => a.id)).toEqual(["/piped"]);
  });
});
