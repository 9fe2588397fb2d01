import { describe, expect, test } from "bun:test";
import { Agent } from "../agent.ts";
import type { AgentConfig } from "../config.ts";
import { saveIdentity } from "../identity.ts";
import { readProcStat } from "../drivers/proc.ts";
import { sandboxPath } from "../sandbox.ts";
import { FakeMaster, waitFor } from "../test-support/fake-master.ts";
import { collectLog } from "../test-support/log-collector.ts";
import { fileText, launchOf, taskPid } from "../test-support/tasks.ts";
import { queryOf, queryUdp } from "./test-support/dns-client.ts";
import { FakeDohServer } from "./test-support/fake-doh-server.ts";
import { testScope } from "../test-support/scope.ts";

/** The forwarder inside a real Agent: started with it, asked with its credential, handed to tasks. */

const { reaper, defer, tempDir } = testScope("dcx-agent-dns");

function fakeDoh(): FakeDohServer {
  const doh = new FakeDohServer();
  defer(() => doh.stop());
  doh.add({ type: "A", name: "web.marathon.mesos", ttl: 5, data: "10.0.0.7" });
  return doh;
}

function config(master: string, workDir: string, dns: Partial<NonNullable<AgentConfig["dns"]>> = {}): AgentConfig {
  return {
    master,
    cluster: "x",
    workDir,
    resources: { cpus: 1, mem: 256 },
    attributes: {},
    hostname: "h",
    advertiseIp: "127.0.0.1",
    backoffMaxMs: 50,
    killTasksOnExit: false,
    dns: { listen: { host: "127.0.0.1", port: 0 }, zones: ["mesos", "thisdcos.directory"], resolvConf: "/nonexistent", ...dns },
  };
}

function runAgent(agent: Agent): void {
  void agent.run();
  defer(() => agent.stop());
}

describe("the agent's DNS forwarder", () => {
  test("asks {master}/c/{cluster}/dns-query with the credential from the identity file", async () => {
    const doh = fakeDoh();
    const workDir = tempDir();
    // The master here is the fake DoH server: the agent's WebSocket fails and retries, DNS works regardless.
    saveIdentity(workDir, { agentId: "agent-9", credential: "cred-from-identity", cluster: "x", master: doh.origin });
    const log = collectLog();
    const agent = Agent.create(config(doh.origin, workDir), { log: log.log });
    runAgent(agent);
    const address = await waitFor(() => agent.dnsAddress, "the forwarder to listen");
    const port = Number(address.split(":").at(-1));
    const answer = await queryUdp(port, queryOf("web.marathon.mesos", "A", 31));
    expect(answer.answers?.[0]).toMatchObject({ data: "10.0.0.7" });
    expect(doh.requests[0]).toMatchObject({ path: "/c/x/dns-query", authorization: "Bearer cred-from-identity" });
    expect(log.events("dns_listening")[0]).toMatchObject({ address, doh: `${doh.origin}/c/x/dns-query` });
    expect(log.lines.join("\n")).not.toContain("cred-from-identity");
  });

  test("a task launched by the agent finds the forwarder in DCX_DNS and resolves a peer through it", async () => {
    const doh = fakeDoh();
    const master = new FakeMaster({ pingIntervalMs: 50 });
    defer(() => master.stop());
    const workDir = tempDir();
    const agent = Agent.create({ ...config(master.url, workDir, { upstream: doh.url("x") }), token: "join-1" }, { log: collectLog().log });
    runAgent(agent);
    const session = await master.registered(0);
    const address = await waitFor(() => agent.dnsAddress, "the forwarder to listen");
    // With dig, the task resolves its peer by name through $DCX_DNS; without it, it reports the address only.
    const resolve = Bun.which("dig") === null ? "" : 'dig @"${DCX_DNS%:*}" -p "${DCX_DNS##*:}" +short web.marathon.mesos A > peer; ';
    master.send(session, { type: "launch", tasks: [launchOf("web.1", { shell: `${resolve}printf %s "$DCX_DNS" > dns; echo $$ > pid; sleep 30` })] });
    const sandbox = sandboxPath(workDir, "web.1");
    const pid = await taskPid(sandbox, "pid");
    reaper.add(pid === undefined ? undefined : readProcStat(pid)?.pgid);
    expect(await fileText(sandbox, "dns")).toBe(address);
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    if (resolve !== "") expect(await fileText(sandbox, "peer")).toBe("10.0.0.7");
    // A different origin than the master: the agent's credential is not sent there.
    expect(doh.requests.map((request) => request.authorization)).toEqual(resolve === "" ? [] : [null]);
  });
});
