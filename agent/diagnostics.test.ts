import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { type AgentMessage, BundleData, Diagnostics, DIAGNOSTICS_REFRESH_MS, MAX_BUNDLE_LOG_BYTES, MAX_FRAME_BYTES } from "../protocol/index.ts";
import type { DiagnosticCheck } from "../protocol/index.ts";
import { Agent } from "./agent.ts";
import { AgentDiagnostics, MIN_FREE_DISK_BYTES, RecentLog } from "./diagnostics.ts";
import type { DiagnosticsSources } from "./diagnostics.ts";
import type { DriverFingerprint } from "./drivers/driver.ts";
import { FakeMaster, waitFor } from "./test-support/fake-master.ts";
import { collectLog } from "./test-support/log-collector.ts";
import { testAgentConfig } from "./test-support/agent-config.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const exec: DriverFingerprint = { name: "exec", available: true, isolation: { mode: "cgroup-v2", reason: "root with cgroup v2" } };
const GB = 1024 ** 3;

function diagnostics(overrides: Partial<DiagnosticsSources> = {}) {
  let now = 1_000_000;
  const sent: AgentMessage[] = [];
  const d = new AgentDiagnostics({
    workDir: "/work",
    drivers: () => [exec],
    dockerConfigured: false,
    dns: () => undefined,
    disk: () => ({ freeBytes: 50 * GB, totalBytes: 100 * GB }),
    now: () => now,
    ...overrides,
  });
  cleanups.push(() => d.close());
  return { d, sent, send: (m: AgentMessage) => sent.push(m), advance: (ms: number) => (now += ms) };
}

const byName = (checks: DiagnosticCheck[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

describe("agent self-checks", () => {
  test("a healthy agent: connected, cgroups enforced, docker and DNS not configured, disk roomy", () => {
    const { d, send } = diagnostics();
    d.connected(send);
    const checks = byName(d.checks());
    expect(checks.connection).toMatchObject({ status: "healthy", message: expect.stringContaining("0 reconnect(s)") });
    expect(checks.cgroups).toMatchObject({ status: "healthy", message: "cgroup-v2: root with cgroup v2" });
    expect(checks.docker).toMatchObject({ status: "disabled" });
    expect(checks.dns).toMatchObject({ status: "disabled" });
    expect(checks.disk).toMatchObject({ status: "healthy", message: "51200 MB free of 102400 MB in /work" });
  });

  test("each part's failure is unhealthy and says why", () => {
    const { d, send } = diagnostics({
      drivers: () => [
        { name: "exec", available: true, isolation: { mode: "process-group", reason: "not root" } },
        { name: "docker", available: false, reason: "connect ENOENT /var/run/docker.sock" },
      ],
      dockerConfigured: true,
      disk: () => ({ freeBytes: MIN_FREE_DISK_BYTES - 1, totalBytes: 100 * GB }),
    });
    d.connected(send);
    const checks = byName(d.checks());
    expect(checks.cgroups).toMatchObject({ status: "unhealthy", message: "tasks' cpus and mem are not enforced: not root" });
    expect(checks.docker).toMatchObject({ status: "unhealthy", message: "dockerd does not answer: connect ENOENT /var/run/docker.sock" });
    expect(checks.disk?.status).toBe("unhealthy");
    const unreadable = diagnostics({
      disk: () => {
        throw new Error("EACCES");
      },
    });
    expect(byName(unreadable.d.checks()).disk).toMatchObject({ status: "unhealthy", message: "cannot read the work dir's filesystem: EACCES" });
  });

  test("a flapping connection is unhealthy; reconnects older than an hour are forgotten", () => {
    const { d, send, advance } = diagnostics();
    for (let i = 0; i < 7; i++) {
      d.connected(send);
      advance(1000);
    }
    expect(byName(d.checks()).connection).toMatchObject({ status: "unhealthy", message: expect.stringContaining("6 reconnect(s)") });
    advance(3600_000);
    d.connected(send);
    expect(byName(d.checks()).connection?.status).toBe("healthy");
    d.disconnected();
    expect(byName(d.checks()).connection).toMatchObject({ status: "unhealthy", message: "not connected to the master" });
  });

  test("reports when a session comes up, valid on the wire, then only on a change of status or when the last report is old", () => {
    let free = 50 * GB;
    const { d, sent, send, advance } = diagnostics({ disk: () => ({ freeBytes: free, totalBytes: 100 * GB }) });
    d.connected(send);
    expect(sent).toHaveLength(1);
    expect(Diagnostics.parse(sent[0])).toMatchObject({ type: "diagnostics", sentAt: 1_000_000 });
    const report = (d as unknown as { report(): void }).report.bind(d);
    free -= GB; // a value changed, not a status: nothing to say yet
    report();
    expect(sent).toHaveLength(1);
    free = 1; // the disk fills up
    report();
    expect(sent).toHaveLength(2);
    advance(DIAGNOSTICS_REFRESH_MS);
    report();
    expect(sent).toHaveLength(3);
  });

  test("a bundle answer fits the protocol's frame limit even when escaping its log lines doubles them", () => {
    const { d, sent, send } = diagnostics();
    d.connected(send);
    // Lines of quotes and backslashes: each becomes two characters inside the frame's JSON string.
    const text = Array.from({ length: 2000 }, (_, i) => `${i} ${'"\\'.repeat(150)}\n`).join("");
    expect(JSON.stringify(text).length).toBeGreaterThan(MAX_FRAME_BYTES);
    d.answerBundle({ type: "bundle", requestId: "r" }, text);
    const answer = sent.at(-1);
    expect(JSON.stringify(answer).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const logs = BundleData.parse(answer).logs;
    // The newest lines are kept, whole.
    expect(logs.endsWith(`1999 ${'"\\'.repeat(150)}\n`)).toBe(true);
    expect(logs.split("\n")[0]).toMatch(/^\d+ ("\\)+$/);
  });

  test("the recent log keeps the newest whole lines within its byte limit", () => {
    const log = new RecentLog(100);
    for (let i = 0; i < 20; i++) log.push(`{"line":${i}}\n`);
    const lines = log.text().trimEnd().split("\n");
    expect(log.text().length).toBeLessThanOrEqual(100);
    expect(lines.at(-1)).toBe('{"line":19}');
    expect(lines[0]).toMatch(/^\{"line":\d+\}$/);
    log.push("x".repeat(500));
    expect(log.text().length).toBeLessThanOrEqual(100);
  });
});

describe("a running agent", () => {
  test("reports its checks once registered, and answers a bundle request with them and its own log lines", async () => {
    const master = new FakeMaster();
    cleanups.push(() => master.stop());
    const dir = mkdtempSync(join(os.tmpdir(), "dcx-diag-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const agent = Agent.create(testAgentConfig(master.url, dir, { token: "secret-join-token-xyz", hostname: "diag-host" }), { log: collectLog().log });
    void agent.run();
    cleanups.push(() => agent.stop());
    const session = await master.registered(0);
    const frames = () => session.frames.filter((f) => f.startsWith("{")).map((f) => JSON.parse(f) as { type: string });
    const report = await waitFor(() => frames().find((f) => f.type === "diagnostics"), "a diagnostics frame");
    expect(Diagnostics.parse(report).checks.map((c) => c.name)).toEqual(["connection", "cgroups", "docker", "dns", "disk"]);
    master.send(session, { type: "bundle", requestId: "r1" });
    const answer = BundleData.parse(await waitFor(() => frames().find((f) => f.type === "bundleData"), "a bundleData frame"));
    expect(answer.requestId).toBe("r1");
    expect(answer.logs.length).toBeLessThanOrEqual(MAX_BUNDLE_LOG_BYTES);
    const events = answer.logs
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line).event);
    expect(events).toEqual(expect.arrayContaining(["starting", "connected", "registered"]));
    // The backstop still applies: no secret reaches the bundle.
    expect(answer.logs).not.toContain("secret-join-token-xyz");
  });
});
