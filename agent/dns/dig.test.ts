import { afterEach, describe, expect, test } from "bun:test";
import { collectLog } from "../test-support/log-collector.ts";
import { DnsForwarder } from "./forwarder.ts";
import { FakeDohServer } from "./test-support/fake-doh-server.ts";

/**
 * A real DNS client written by others against the forwarder: BIND's `dig` (Debian package
 * bind9-dnsutils), with the fake DoH endpoint behind the forwarder. Without dig this skips
 * loudly, and fails when CI=true.
 */

const DIG = Bun.which("dig");
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

if (DIG === null) {
  if (process.env.CI === "true") {
    test("dig is installed", () => {
      throw new Error("dig is missing: install the Debian package bind9-dnsutils (apt-get install -y bind9-dnsutils)");
    });
  } else {
    console.warn("SKIPPING dig tests: dig is missing (apt-get install -y bind9-dnsutils); with CI=true this fails");
  }
}

/** What dig printed: the header status, the id, and the answer section's records. */
interface DigResult {
  status: string;
  id: number;
  answers: { name: string; ttl: number; type: string; data: string }[];
}

function parseDig(output: string): DigResult {
  const header = /->>HEADER<<- opcode: (\w+), status: (\w+), id: (\d+)/.exec(output);
  if (header === null) throw new Error(`dig printed no header:\n${output}`);
  const section = /;; ANSWER SECTION:\n([\s\S]*?)(\n\n|$)/.exec(output)?.[1] ?? "";
  const answers = section
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [name = "", ttl = "", , type = "", ...data] = line.split(/\s+/);
      return { name, ttl: Number(ttl), type, data: data.join(" ") };
    });
  return { status: header[2] ?? "", id: Number(header[3]), answers };
}

async function dig(port: number, ...args: string[]): Promise<DigResult> {
  const proc = Bun.spawn([DIG ?? "dig", "@127.0.0.1", "-p", String(port), "+tries=1", "+time=3", ...args], { stdout: "pipe", stderr: "pipe" });
  const [output, errors, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`dig exited ${code}: ${errors}${output}`);
  expect(output).not.toContain("WARNING");
  return parseDig(output);
}

async function forwarderWithDoh(): Promise<{ port: number; doh: FakeDohServer }> {
  const doh = new FakeDohServer();
  cleanups.push(() => doh.stop());
  doh.add(
    { type: "A", name: "web.marathon.mesos", ttl: 5, data: "10.0.0.7" },
    { type: "A", name: "web.marathon.mesos", ttl: 5, data: "10.0.0.8" },
    { type: "SRV", name: "_web._tcp.marathon.mesos", ttl: 5, data: { priority: 0, weight: 1, port: 31005, target: "web-abc12-s1.marathon.slave.mesos" } },
  );
  const forwarder = await DnsForwarder.start({
    listen: { host: "127.0.0.1", port: 0 },
    zones: ["mesos"],
    dohUrl: doh.url("x"),
    bearer: () => "cred",
    resolvConf: "/nonexistent",
    log: collectLog().log,
  });
  cleanups.push(() => forwarder.stop());
  return { port: forwarder.bound.port, doh };
}

describe.skipIf(DIG === null)("dig against the forwarder", () => {
  test("dig NAME A: both task addresses, from the DoH endpoint", async () => {
    const { port, doh } = await forwarderWithDoh();
    const result = await dig(port, "web.marathon.mesos", "A");
    expect(result.status).toBe("NOERROR");
    expect(result.answers.map((answer) => answer.data).sort()).toEqual(["10.0.0.7", "10.0.0.8"]);
    expect(result.answers.every((answer) => answer.name === "web.marathon.mesos." && answer.type === "A" && answer.ttl === 5)).toBe(true);
    expect(doh.requests[0]?.authorization).toBe("Bearer cred");
  });

  test("dig NAME SRV over UDP and +tcp: priority, weight, port and target", async () => {
    const { port } = await forwarderWithDoh();
    for (const transport of ["+notcp", "+tcp"]) {
      const result = await dig(port, transport, "_web._tcp.marathon.mesos", "SRV");
      expect(result.status).toBe("NOERROR");
      expect(result.answers).toEqual([
        { name: "_web._tcp.marathon.mesos.", ttl: expect.any(Number), type: "SRV", data: "0 1 31005 web-abc12-s1.marathon.slave.mesos." },
      ]);
    }
  });

  test("dig of a missing name: NXDOMAIN", async () => {
    const { port } = await forwarderWithDoh();
    expect((await dig(port, "nothing.marathon.mesos", "A")).status).toBe("NXDOMAIN");
  });
});
