import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "../e2e/cluster.ts";
import { TEST_IMAGE, containersLabelled, docker } from "../e2e/docker-support.ts";
import { FaultProxy } from "./fault-proxy.ts";
import { type FaultResult, Ledger, processesUnder, settle } from "./measure.ts";

/**
 * The faults of the suite, each on a fresh local cluster (the control plane on workerd, two real
 * Bun agents, real task processes), each measured the same way (measure.ts). Every case loads
 * loopback only and ends by itself within its deadlines.
 */

const RESOURCES = "cpus:2;mem:2048;disk:1024;ports:[31000-31099]";
const OTHER_RESOURCES = "cpus:2;mem:2048;disk:1024;ports:[31100-31199]";
/** A task the suite can count on the machine: `sleep` processes whose working directory is a sandbox of this cluster. */
const SLEEPER = { cmd: "exec sleep 100000", cpus: 0.1, mem: 32 };

/** Where an agent's work dir goes, when not in the cluster's temp dir; may prepare it. */
type WorkDirOf = (name: string, cluster: TestCluster) => string | undefined;

interface Setup {
  cluster: TestCluster;
  ledger: Ledger;
  /** Agents' `--master` goes through this proxy when the case asks for one. */
  proxy?: FaultProxy;
}

/** A fresh cluster with two agents (the first through a fault proxy when `proxied`). */
async function setUp(proxied: "none" | "first" | "both", workDirOf: WorkDirOf = () => undefined): Promise<Setup> {
  const cluster = new TestCluster();
  await cluster.start();
  await cluster.signUp();
  const ledger = new Ledger(cluster);
  const token = await cluster.joinToken();
  let proxy: FaultProxy | undefined;
  let viaProxy = cluster.url;
  if (proxied !== "none") {
    proxy = new FaultProxy(cluster.port);
    viaProxy = `http://127.0.0.1:${await proxy.start()}`;
  }
  const workDir = (name: string) => {
    const dir = workDirOf(name, cluster);
    return dir === undefined ? {} : { workDir: dir };
  };
  // DCX_CHAOS_ECHO=1 prints the agents' log lines, to see why a case did not recover.
  const echo = (name: string) => (process.env.DCX_CHAOS_ECHO === "1" ? { echo: `[${name}]` } : {});
  cluster.startAgent("a", {
    token,
    ...echo("a"),
    hostname: "node-a",
    advertiseIp: "127.0.0.2",
    resources: RESOURCES,
    master: proxied === "none" ? cluster.url : viaProxy,
    ...workDir("a"),
  });
  cluster.startAgent("b", {
    token,
    ...echo("b"),
    hostname: "node-b",
    advertiseIp: "127.0.0.3",
    resources: OTHER_RESOURCES,
    master: proxied === "both" ? viaProxy : cluster.url,
    ...workDir("b"),
  });
  await waitFor("two active agents", async () => {
    const res = await ledger.call("GET", `/c/${cluster.clusterId}/master/slaves`);
    const slaves = res?.status === 200 ? ((await res.json()) as { slaves: { active: boolean }[] }).slaves : [];
    return slaves.length === 2 && slaves.every((s) => s.active) ? true : undefined;
  });
  return { cluster, ledger, proxy };
}

async function tearDown(setup: Setup): Promise<void> {
  await setup.proxy?.stop();
  await setup.cluster.stop();
}

async function deploy(setup: Setup, app: Record<string, unknown>): Promise<void> {
  const res = await setup.ledger.call("POST", `/c/${setup.cluster.clusterId}/v2/apps`, app);
  if (res?.status !== 201) throw new Error(`deploying ${String(app.id)} failed: ${res?.status ?? "no answer"} ${await res?.text()}`);
  setup.ledger.ackedApps.push(String(app.id));
}

/** Runs a case on its own cluster and turns its measurements into a result. */
async function measured(
  fault: string,
  proxied: "none" | "first" | "both",
  body: (setup: Setup) => Promise<{ appId: string; healedAt: number; notes: string; count?: () => number }>,
  machine: { workDirOf?: WorkDirOf; release?: () => void } = {},
): Promise<FaultResult> {
  const setup = await setUp(proxied, machine.workDirOf);
  try {
    const { appId, healedAt, notes, count } = await body(setup);
    const counter = count ?? (() => processesUnder(setup.cluster.dir, "sleep"));
    const settled = await settle(setup.ledger, setup.cluster, appId, counter);
    return {
      fault,
      tasksLost: settled.lost,
      tasksDuplicated: settled.duplicated,
      ackedWritesLost: await setup.ledger.lostWrites(),
      serverErrors: setup.ledger.serverErrors,
      recoveryMs: settled.ms === null ? null : Date.now() - healedAt,
      notes,
    };
  } finally {
    machine.release?.();
    await tearDown(setup);
  }
}

/** kill -9 of the control plane right after it acknowledged a deployment, then a restart on the same state. */
export function controlPlaneKill(): Promise<FaultResult> {
  return measured("control plane kill -9 mid-deploy", "none", async ({ cluster, ledger }) => {
    const appId = "/chaos/cp-kill";
    const writes = ledger.writeUntil("cp", new Promise((resolve) => setTimeout(resolve, 300)));
    await deploy({ cluster, ledger }, { id: appId, instances: 6, ...SLEEPER });
    await writes;
    await cluster.controlPlane.child.stop("SIGKILL");
    const healedAt = Date.now();
    await cluster.start();
    return { appId, healedAt, notes: "restarted on the same state; agents reconnect by themselves" };
  });
}

/** SIGKILL of an agent just after it started launching, then the agent restarted on its work dir. */
export function agentKillMidLaunch(): Promise<FaultResult> {
  return measured("agent SIGKILL mid-launch", "none", async (setup) => {
    const appId = "/chaos/agent-launch";
    const [a] = setup.cluster.agents;
    if (a === undefined) throw new Error("no agent");
    const before = a.events.length;
    await deploy(setup, { id: appId, instances: 6, ...SLEEPER });
    await a.waitForEvent("task_launched", before, 30_000);
    await a.stop("SIGKILL");
    const healedAt = Date.now();
    setup.cluster.startAgent("a", { hostname: "node-a", advertiseIp: "127.0.0.2", resources: RESOURCES });
    return { appId, healedAt, notes: "launched tasks survive the agent; the restarted agent reports them" };
  });
}

/** SIGKILL of an agent as it starts killing an app's tasks (a scale down), then the agent restarted. */
export function agentKillMidKill(): Promise<FaultResult> {
  return measured("agent SIGKILL mid-kill", "none", async (setup) => {
    const appId = "/chaos/agent-kill";
    await deploy(setup, { id: appId, instances: 6, ...SLEEPER });
    await settle(setup.ledger, setup.cluster, appId, () => processesUnder(setup.cluster.dir, "sleep"));
    const [a] = setup.cluster.agents;
    if (a === undefined) throw new Error("no agent");
    const before = a.events.length;
    const scaled = await setup.ledger.call("PATCH", `/c/${setup.cluster.clusterId}/v2/apps${appId}`, { instances: 1 });
    if (scaled?.status !== 200) throw new Error(`scaling down failed: ${scaled?.status}`);
    await a.waitForEvent("task_killing", before, 30_000);
    await a.stop("SIGKILL");
    const healedAt = Date.now();
    setup.cluster.startAgent("a", { hostname: "node-a", advertiseIp: "127.0.0.2", resources: RESOURCES });
    return { appId, healedAt, notes: "kills the agent had not finished are finished by the master on reconnect" };
  });
}

/** The first agent cut off by a black hole for longer than the agent timeout, then healed. */
export function partition(): Promise<FaultResult> {
  return measured("partition (black hole), then heal", "first", async (setup) => {
    const appId = "/chaos/partition";
    await deploy(setup, { id: appId, instances: 4, ...SLEEPER, unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 } });
    await settle(setup.ledger, setup.cluster, appId, () => processesUnder(setup.cluster.dir, "sleep"));
    setup.proxy?.set({ kind: "blackhole" });
    // Past the agent timeout (3 s here): its tasks turn unreachable and are replaced on the other agent.
    await waitFor(
      "the partitioned agent to be unreachable",
      async () => {
        const res = await setup.ledger.call("GET", `/c/${setup.cluster.clusterId}/agents`);
        const agents = res?.status === 200 ? ((await res.json()) as { agents: { hostname: string; state: string }[] }).agents : [];
        return agents.find((a) => a.hostname === "node-a")?.state === "unreachable" ? true : undefined;
      },
      30_000,
      200,
    );
    await setup.ledger.writeUntil("partition", new Promise((resolve) => setTimeout(resolve, 1500)));
    setup.proxy?.heal();
    return { appId, healedAt: Date.now(), notes: "tasks of the cut-off agent replaced; on healing the master kills the orphans" };
  });
}

/** Every connection of both agents reset again and again while the app scales up, then healed. */
export function dropConnections(): Promise<FaultResult> {
  return measured("connections dropped during a scale-up", "both", async (setup) => {
    const appId = "/chaos/drop";
    await deploy(setup, { id: appId, instances: 2, ...SLEEPER });
    await settle(setup.ledger, setup.cluster, appId, () => processesUnder(setup.cluster.dir, "sleep"));
    const scaled = await setup.ledger.call("PATCH", `/c/${setup.cluster.clusterId}/v2/apps${appId}`, { instances: 6 });
    if (scaled?.status !== 200) throw new Error(`scaling up failed: ${scaled?.status}`);
    for (let i = 0; i < 6; i++) {
      setup.proxy?.set({ kind: "drop" });
      await new Promise((resolve) => setTimeout(resolve, 150));
      setup.proxy?.heal();
      await new Promise((resolve) => setTimeout(resolve, 350));
    }
    return { appId, healedAt: Date.now(), notes: `${setup.proxy?.accepted ?? 0} connections accepted by the proxy (reconnects)` };
  });
}

/** 300 ms added each way on both agents' connections during a deployment. */
export function delayedConnections(): Promise<FaultResult> {
  return measured("300 ms delay each way during a deploy", "both", async (setup) => {
    const appId = "/chaos/delay";
    setup.proxy?.set({ kind: "delay", ms: 300 });
    await deploy(setup, { id: appId, instances: 6, ...SLEEPER });
    await settle(setup.ledger, setup.cluster, appId, () => processesUnder(setup.cluster.dir, "sleep"));
    setup.proxy?.heal();
    return { appId, healedAt: Date.now(), notes: "the deployment completes through the delay; measured after healing" };
  });
}

/** dockerd restarted under running containers (it stops them): the tasks are replaced, none twice. */
export function dockerdRestart(): Promise<FaultResult> {
  return measured("dockerd restarted under running containers", "none", async (setup) => {
    const appId = "/chaos/docker";
    const count = () => containersLabelled(`dcx.app_id=${appId}`).filter((id) => docker("inspect", "--format", "{{.State.Running}}", id) === "true").length;
    await deploy(setup, { id: appId, instances: 2, cmd: "sleep 100000", cpus: 0.1, mem: 32, container: { type: "DOCKER", docker: { image: TEST_IMAGE } } });
    await settle(setup.ledger, setup.cluster, appId, count);
    restartDockerd();
    return { appId, healedAt: Date.now(), notes: "containers stopped with the daemon are reported and replaced", count };
  });
}

/** Stops the dockerd that scripts/docker-setup.sh started (by its pid file) and starts it again the same way. */
function restartDockerd(): void {
  const pid = Number(readFileSync("/var/run/docker.pid", "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error("no dockerd pid in /var/run/docker.pid");
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) spawnSync("sleep", ["0.2"]);
  execFileSync("bash", [join(ROOT, "scripts", "docker-setup.sh")], { stdio: "ignore" });
}

/** The first agent's work dir on a small tmpfs, filled up while tasks launch there, then freed. */
export function diskFull(): Promise<FaultResult> {
  let mount: string | undefined;
  const workDirOf: WorkDirOf = (name, cluster) => {
    if (name !== "a") return undefined;
    mount = join(cluster.dir, "disk-a");
    mkdirSync(mount, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "dcx-chaos", mount]);
    return join(mount, "work");
  };
  // Lazily: the agent and its tasks may still hold files there until the cluster is stopped.
  const release = () => void (mount !== undefined && spawnSync("umount", ["-l", mount]));
  return measured(
    "the agent's disk full",
    "none",
    async (setup) => {
      const appId = "/chaos/disk";
      // The disk fills after the agent registered: its database and identity are written already.
      spawnSync("dd", ["if=/dev/zero", `of=${join(mount ?? "", "filler")}`, "bs=1M", "count=64"], { stdio: "ignore" });
      await deploy(setup, { id: appId, instances: 4, ...SLEEPER, constraints: [["hostname", "CLUSTER", "node-a"]] });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      rmSync(join(mount ?? "", "filler"), { force: true });
      return { appId, healedAt: Date.now(), notes: "launches fail while the disk is full, and are retried once it has room" };
    },
    { workDirOf, release },
  );
}

/** Whether the suite may mount a tmpfs (root) and restart dockerd (root, a pid file). */
export function privileges(): { root: boolean; dockerd: boolean } {
  const root = process.getuid?.() === 0;
  return {
    root,
    dockerd: root && existsSync("/var/run/docker.pid") && spawnSync("docker", ["image", "inspect", TEST_IMAGE], { stdio: "ignore" }).status === 0,
  };
}
