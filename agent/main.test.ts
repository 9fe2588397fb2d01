import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { CloseCode } from "../protocol/index.ts";
import { FakeMaster, waitFor } from "./test-support/fake-master.ts";

/** The real entry, run as its own process, so exit codes and signals are the real thing. */
const MAIN = join(import.meta.dir, "main.ts");
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-main-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fakeMaster(options?: ConstructorParameters<typeof FakeMaster>[0]): FakeMaster {
  const master = new FakeMaster(options);
  cleanups.push(() => master.stop());
  return master;
}

/** Starts `bun agent/main.ts args` with only the given variables set, collecting its output as it comes. */
function spawnAgent(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  cleanups.push(() => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  });
  const output = { stdout: "", stderr: "" };
  const drain = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output[into] += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([drain(proc.stdout, "stdout"), drain(proc.stderr, "stderr")]);
  /** Resolves when the process has exited and its output is complete. */
  const finished = async () => {
    const [code] = await Promise.all([proc.exited, drained]);
    return { code, ...output, events: () => jsonLines(output.stdout) };
  };
  return { proc, output, finished };
}

function jsonLines(text: string): { event: string; level: string; message?: string }[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { event: string; level: string; message?: string });
}

describe("main.ts", () => {
  test("--help prints the usage with every flag and its variable, and exits 0", async () => {
    const { code, stdout } = await spawnAgent(["--help"]).finished();
    expect(code).toBe(0);
    for (const flag of [
      "--master",
      "--cluster",
      "--token",
      "--work-dir",
      "--resources",
      "--attributes",
      "--hostname",
      "--advertise-ip",
      "--backoff-max-ms",
      "--kill-tasks-on-exit",
    ]) {
      expect(stdout).toContain(flag);
    }
    for (const flag of ["--dns-listen", "--dns-zone", "--dns-upstream", "--dns-resolv-conf"]) expect(stdout).toContain(flag);
    expect(stdout).toContain("DCX_BACKOFF_MAX_MS");
    expect(stdout).toContain("DCX_KILL_TASKS_ON_EXIT");
    expect(stdout).toContain("DCX_DNS_LISTEN");
  });

  test("a missing option exits 2 naming the flag on stderr", async () => {
    const { code, stderr } = await spawnAgent(["--cluster", "c1", "--work-dir", tempDir()]).finished();
    expect(code).toBe(2);
    expect(stderr).toContain("--master is required");
  });

  test("without a token and without an identity: exit 2 naming --token, and no work dir is created", async () => {
    const workDir = join(tempDir(), "work");
    const { code, stderr } = await spawnAgent(["--master", "http://127.0.0.1:1", "--cluster", "c1", "--work-dir", workDir]).finished();
    expect(code).toBe(2);
    expect(stderr).toContain("--token is required");
    expect(existsSync(workDir)).toBe(false);
  });

  test("a --dns-listen address already in use exits 2 with dns_listen_failed naming it", async () => {
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: () => {} } });
    cleanups.push(() => taken.stop(true));
    const address = `127.0.0.1:${taken.port}`;
    const agent = spawnAgent([
      "--master",
      "http://127.0.0.1:1",
      "--cluster",
      "c1",
      "--token",
      "t",
      "--work-dir",
      tempDir(),
      "--hostname",
      "h",
      "--dns-listen",
      address,
    ]);
    const { code, events } = await agent.finished();
    expect(code).toBe(2);
    const failed = events().find((e) => e.event === "dns_listen_failed");
    expect(failed).toMatchObject({ level: "error", address });
  });

  test("a rejected join token exits 78 with an error saying so", async () => {
    const master = fakeMaster();
    master.onRegister = (session) => session.ws?.close(CloseCode.POLICY, "join token is not valid");
    const agent = spawnAgent(["--master", master.url, "--cluster", "c1", "--token", "join-x", "--work-dir", tempDir(), "--hostname", "h"]);
    const { code, events, stdout } = await agent.finished();
    expect(code).toBe(78);
    const rejected = events().find((e) => e.event === "credential_rejected");
    expect(rejected?.level).toBe("error");
    expect(rejected?.message).toContain("join token");
    expect(stdout).not.toContain("join-x");
  });

  test("SIGTERM while connected closes with 1000, logs shutdown and exits 0 (config from DCX_* variables)", async () => {
    const master = fakeMaster({ pingIntervalMs: 20 });
    const agent = spawnAgent([], {
      DCX_MASTER: master.url,
      DCX_CLUSTER: "c1",
      DCX_TOKEN: "join-y",
      DCX_WORK_DIR: tempDir(),
      DCX_HOSTNAME: "h",
      DCX_BACKOFF_MAX_MS: "50",
    });
    const session = await master.registered(0);
    await waitFor(() => session.pings > 0, "a ping");
    agent.proc.kill("SIGTERM");
    const { code, events } = await agent.finished();
    expect(code).toBe(0);
    expect(session.closed).toEqual({ code: CloseCode.NORMAL, reason: "agent shutting down" });
    expect(events().at(-1)?.event).toBe("shutdown");
  });

  test("SIGINT while waiting to reconnect exits 0", async () => {
    const agent = spawnAgent(["--master", "http://127.0.0.1:1", "--cluster", "c1", "--token", "t", "--work-dir", tempDir(), "--hostname", "h"]);
    // Once it has failed to connect, it sits in a backoff wait.
    await waitFor(() => agent.output.stdout.includes("reconnect_scheduled"), "a failed connection attempt");
    agent.proc.kill("SIGINT");
    const { code, events } = await agent.finished();
    expect(code).toBe(0);
    expect(events().at(-1)?.event).toBe("shutdown");
  });
});
