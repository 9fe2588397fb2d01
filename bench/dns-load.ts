/**
 * The DNS benchmark's load generator, run as its own process so it does not share a core's
 * event loop with what it measures. Two modes:
 *   --mode doh  --url URL   POSTs RFC 8484 queries over kept-alive HTTP connections
 *   --mode doh-get --url URL  GETs them (`?dns=`, id 0 as RFC 8484 §4.1 advises) the same way
 *   --mode udp  --port N    sends plain DNS over UDP to 127.0.0.1:N (the agent's forwarder)
 *   --mode get  --url URL   GETs a plain URL (a baseline: what the local HTTP stack alone costs)
 * Each keeps `--concurrency` queries in flight for `--seconds`, checks every answer, and prints
 * one JSON line: {queries, errors, seconds, cpuMs (its own), latenciesMs: [p50, p90, p99, max]}.
 */
import { createSocket } from "node:dgram";
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import * as dnsPacket from "@leichtgewicht/dns-packet";
import { percentile } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string" },
    url: { type: "string" },
    port: { type: "string" },
    name: { type: "string", default: "web.marathon.mesos" },
    concurrency: { type: "string", default: "32" },
    seconds: { type: "string", default: "8" },
  },
});
const concurrency = Number(values.concurrency);
const deadline = performance.now() + Number(values.seconds) * 1000;
const name = values.name ?? "web.marathon.mesos";
const latencies: number[] = [];
let errors = 0;

function query(id: number): Uint8Array {
  return dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: "A", class: "IN" }] });
}

/** True for a NOERROR response with at least one answer. */
function good(bytes: Uint8Array): boolean {
  try {
    const p = dnsPacket.decode(bytes);
    return ((p.flags ?? 0) & 0xf) === 0 && (p.answers?.length ?? 0) > 0;
  } catch {
    return false;
  }
}

/** One HTTP exchange; resolves to the status and body (status 0 when the connection failed). */
function exchange(url: URL, agent: Agent, body?: Uint8Array): Promise<{ status: number; bytes: Uint8Array }> {
  return new Promise<{ status: number; bytes: Uint8Array }>((resolve, reject) => {
    const headers = body ? { "Content-Type": "application/dns-message", "Content-Length": body.length } : {};
    const req = request(url, { method: body ? "POST" : "GET", agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes: new Uint8Array(Buffer.concat(chunks)) }));
    });
    req.on("error", reject);
    req.end(body ? Buffer.from(body) : undefined);
  }).catch(() => ({ status: 0, bytes: new Uint8Array() }));
}

async function httpWorker(url: URL, agent: Agent, mode: "doh" | "doh-get" | "get"): Promise<void> {
  const dns = mode !== "get";
  const body = mode === "doh" ? query(0) : undefined;
  if (mode === "doh-get") url.searchParams.set("dns", Buffer.from(query(0)).toString("base64url"));
  while (performance.now() < deadline) {
    const start = performance.now();
    const { status, bytes } = await exchange(url, agent, body);
    if (status === 200 && (!dns || good(bytes))) latencies.push(performance.now() - start);
    else errors++;
  }
}

async function udpRun(port: number): Promise<void> {
  const socket = createSocket("udp4");
  const pending = new Map<number, number>();
  let nextId = 1;
  const send = () => {
    if (performance.now() >= deadline) return;
    const id = nextId++ & 0xffff;
    pending.set(id, performance.now());
    socket.send(query(id), port, "127.0.0.1");
  };
  await new Promise<void>((resolve) => {
    socket.on("message", (msg) => {
      const id = msg.readUInt16BE(0);
      const start = pending.get(id);
      if (start === undefined) return;
      pending.delete(id);
      if (good(new Uint8Array(msg))) latencies.push(performance.now() - start);
      else errors++;
      send();
    });
    for (let i = 0; i < concurrency; i++) send();
    const check = setInterval(() => {
      const now = performance.now();
      // A datagram lost counts as an error after 2 s, and its slot is refilled.
      for (const [id, at] of pending) if (now - at > 2000) pending.delete(id), errors++, send();
      if (now >= deadline && pending.size === 0) {
        clearInterval(check);
        resolve();
      }
    }, 50);
  });
  socket.close();
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
const mode = values.mode;
if (mode === "doh" || mode === "doh-get" || mode === "get") {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  await Promise.all(Array.from({ length: concurrency }, () => httpWorker(new URL(values.url ?? ""), agent, mode)));
  agent.destroy();
} else {
  await udpRun(Number(values.port));
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write(
  JSON.stringify({ queries: latencies.length, errors, seconds, cpuMs, latenciesMs: [50, 90, 99, 100].map((p) => percentile(latencies, p)) }) + "\n",
);
