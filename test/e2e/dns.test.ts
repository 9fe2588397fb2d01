import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import * as dnsPacket from "@leichtgewicht/dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/control-plane.ts";
import { freePort, waitFor } from "../../scripts/lib/processes.ts";
import { tool } from "./tools.ts";
import { TestCluster } from "./cluster.ts";

// The local runtime in https mode serves a self-signed certificate.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
const run = promisify(execFile);
const dig = tool("dig", "bind9-dnsutils");
const curl = tool("curl", "curl");
const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "echo-server.mjs");

/** A local stand-in for the public upstream resolver: answers every A question with 192.0.2.10. */
function startUpstream(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const query = dnsPacket.decode(new Uint8Array(Buffer.concat(chunks)));
      const q = query.questions?.[0];
      const answer = dnsPacket.encode({
        type: "response",
        id: query.id,
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: query.questions,
        answers: q ? [{ name: q.name, type: "A", class: "IN", ttl: 300, data: "192.0.2.10" }] : [],
      });
      res.writeHead(200, { "Content-Type": "application/dns-message" }).end(Buffer.from(answer));
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

interface JsonAnswer {
  Status: number;
  Answer?: { name: string; type: number; data: string }[];
}

/**
 * DNS end to end with DNS clients written by others: curl's DoH client against the control
 * plane on workerd over HTTPS (self-signed), and dig against a real agent's forwarder.
 */
describe("service discovery over DoH and the agent's forwarder", () => {
  let upstream: Server;
  let cluster: TestCluster;
  let key = "";
  let forwarder = 0;
  const doh = () => `${cluster.url}/dns/${key}/dns-query`;
  const json = async (name: string, type = "A", dohUrl = doh()) => (await (await fetch(`${dohUrl}?name=${name}&type=${type}`)).json()) as JsonAnswer;
  // A task is RUNNING once started, maybe before it listens (under its CPU quota): ask until it answers.
  const curlDoh = (url: string) =>
    waitFor(
      `curl ${url}`,
      () =>
        run("curl", ["-s", "--max-time", "10", "--doh-url", doh(), "--doh-insecure", url]).then(
          (r) => r.stdout,
          () => undefined,
        ),
      15_000,
      100,
    );
  const digShort = async (name: string, type: string) =>
    (await run("dig", ["@127.0.0.1", "-p", String(forwarder), name, type, "+short", "+time=3", "+tries=1"])).stdout.trim().split("\n").filter(Boolean);
  const tasks = async () =>
    (await cluster.api<{ tasks: { id: string; state: string; ports: number[]; host: string }[] }>("GET", `/c/${cluster.clusterId}/v2/apps/web/tasks`)).tasks;

  beforeAll(async () => {
    const upstreamPort = await freePort();
    upstream = await startUpstream(upstreamPort);
    cluster = new TestCluster({ DNS_UPSTREAM: `http://127.0.0.1:${upstreamPort}/dns-query` }, "https");
    await cluster.start();
    await cluster.signUp();
    key = (await cluster.api<{ key: string }>("POST", `/clusters/${cluster.clusterId}/dns-keys`, {})).key;
    const token = await cluster.joinToken();
    forwarder = await freePort();
    cluster.startAgent("a", {
      token,
      hostname: "node-a",
      advertiseIp: "127.0.0.2",
      resources: "cpus:2;mem:1024;disk:512;ports:[34600-34699]",
      extraArgs: ["--dns-listen", `127.0.0.1:${forwarder}`],
    });
    cluster.startAgent("b", { token, hostname: "node-b", advertiseIp: "127.0.0.3", resources: "cpus:2;mem:1024;disk:512;ports:[34700-34799]" });
    await waitFor("two agents", async () =>
      (await cluster.api<{ slaves: unknown[] }>("GET", `/c/${cluster.clusterId}/master/slaves`)).slaves.length === 2 ? true : undefined,
    );
  });
  afterAll(async () => {
    await cluster.stop();
    upstream.close();
  });

  it("answers a task's name in the first query after it is RUNNING, on both agents", async () => {
    await cluster.api("POST", `/c/${cluster.clusterId}/v2/apps`, {
      id: "/web",
      cmd: `exec node ${FIXTURE} dcx-e2e-dns`,
      cpus: 0.1,
      mem: 32,
      instances: 2,
      constraints: [["hostname", "UNIQUE"]],
    });
    await waitFor(
      "both tasks RUNNING",
      async () => {
        const t = await tasks();
        return t.length === 2 && t.every((x) => x.state === "TASK_RUNNING") ? t : undefined;
      },
      30_000,
      20,
    );
    const first = await json("web.marathon.mesos");
    expect(first.Status).toBe(0);
    expect(first.Answer?.map((a) => a.data).sort()).toEqual(["127.0.0.2", "127.0.0.3"]);
  });

  it.skipIf(curl.skip)("curl --doh-url reaches each task by its Mesos-DNS name", async () => {
    curl.require();
    const services = await cluster.api<{ host: string; port: string }[]>("GET", `/c/${cluster.clusterId}/mesos_dns/v1/services/_web._tcp.marathon.mesos`);
    expect(services).toHaveLength(2);
    const ids = (await tasks()).map((t) => t.id);
    for (const s of services) {
      const body = await curlDoh(`http://${s.host.replace(/\.$/, "")}:${s.port}/`);
      expect(ids).toContain(body.split(" ")[0]);
    }
  });

  it.skipIf(dig.skip)("dig through the agent's forwarder gets the tasks' addresses (A) and ports (SRV)", async () => {
    dig.require();
    expect((await digShort("web.marathon.mesos", "A")).sort()).toEqual(["127.0.0.2", "127.0.0.3"]);
    const srv = await digShort("_web._tcp.marathon.mesos", "SRV");
    const ports = (await tasks()).map((t) => String(t.ports[0])).sort();
    expect(srv.map((line) => line.split(" ")[2]).sort()).toEqual(ports);
  });

  it("forwards names outside the zone upstream, and another cluster's key sees none of the names", async () => {
    const outside = await json("outside.example");
    expect(outside.Answer?.map((a) => a.data)).toEqual(["192.0.2.10"]);
    const other = new URL(doh());
    const stranger = await fetch(`${cluster.url}/auth/signup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "stranger@example.com", password: "a long passphrase" }),
    });
    const s = (await stranger.json()) as { token: string; cluster: { id: string } };
    const theirs = (await (
      await fetch(`${cluster.url}/clusters/${s.cluster.id}/dns-keys`, { method: "POST", headers: { Authorization: `Bearer ${s.token}` } })
    ).json()) as { url: string };
    const seen = await json("web.marathon.mesos", "A", theirs.url.replace(/^https?:\/\/[^/]+/, other.origin));
    expect(seen.Status).toBe(3);
    expect(seen.Answer ?? []).toEqual([]);
  });

  it.skipIf(dig.skip)("through the forwarder too, a new name answers in the first query after its task is RUNNING", async () => {
    dig.require();
    // NXDOMAIN now; a negative answer is neither leased by the Worker nor kept by the forwarder.
    expect(await digShort("api.marathon.mesos", "A")).toEqual([]);
    await cluster.api("POST", `/c/${cluster.clusterId}/v2/apps`, { id: "/api", cmd: `exec node ${FIXTURE} dcx-e2e-api`, cpus: 0.1, mem: 32 });
    await waitFor(
      "the api task RUNNING",
      async () => {
        const t = (await cluster.api<{ tasks: { state: string }[] }>("GET", `/c/${cluster.clusterId}/v2/apps/api/tasks`)).tasks;
        return t[0]?.state === "TASK_RUNNING" ? true : undefined;
      },
      30_000,
      20,
    );
    expect(await digShort("api.marathon.mesos", "A")).toHaveLength(1);
    await cluster.api("DELETE", `/c/${cluster.clusterId}/v2/apps/api?force=true`);
  });

  it.skipIf(curl.skip)(
    "a killed task stops answering in the next query, and leaves the forwarder within the lease; a scale to one leaves one address",
    async () => {
      curl.require();
      const [victim] = await tasks();
      const victimIp = victim?.host === "node-a" ? "127.0.0.2" : "127.0.0.3";
      if (!dig.skip) expect(await digShort("web.marathon.mesos", "A")).toContain(victimIp);
      await cluster.api("DELETE", `/c/${cluster.clusterId}/v2/apps/web/tasks/${victim?.id}?scale=true`);
      const after = await json("web.marathon.mesos");
      expect(after.Answer?.map((a) => a.data)).not.toContain(victimIp);
      expect(after.Answer).toHaveLength(1);
      // The forwarder keeps an answer no longer than what was left of the Worker's lease (protocol/dns-lease.ts).
      if (!dig.skip)
        await waitFor(
          "the forwarder to drop the killed task",
          async () => ((await digShort("web.marathon.mesos", "A")).includes(victimIp) ? undefined : true),
          10_000,
          50,
        );
      // One task left: the plain app name now leads curl to it.
      const left = (await tasks()).find((t) => t.id !== victim?.id);
      const body = await curlDoh(`http://web.marathon.mesos:${left?.ports[0]}/`);
      expect(body.startsWith(left?.id ?? "?")).toBe(true);
      await cluster.api("DELETE", `/c/${cluster.clusterId}/v2/apps/web?force=true`);
      const gone = await json("web.marathon.mesos");
      expect(gone.Status).toBe(3);
    },
  );
});
