import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { decode, encode } from "@leichtgewicht/dns-packet";
import type { Answer } from "@leichtgewicht/dns-packet";
import { collectLog } from "../test-support/log-collector.ts";
import type { CollectedLog } from "../test-support/log-collector.ts";
import { DnsForwarder } from "./forwarder.ts";
import { peekHeader } from "./messages.ts";
import type { DnsForwarderOptions } from "./forwarder.ts";
import { exchangeUdp, queryOf, queryTcp, queryUdp } from "./test-support/dns-client.ts";
import { FakeDnsServer } from "./test-support/fake-dns-server.ts";
import { FakeDohServer, NEGATIVE_TTL, dohAnswer } from "./test-support/fake-doh-server.ts";
import { mutate, randomBytes, seeded } from "./test-support/fuzz.ts";

/**
 * The forwarder on real sockets: a fake DoH endpoint behind it for the cluster zones, a fake
 * plain resolver (named by a temporary resolv.conf) for everything else.
 */

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const WEB_A: Answer = { type: "A", name: "web.marathon.mesos", ttl: 30, data: "10.0.0.7" };
const WEB_SRV: Answer = {
  type: "SRV",
  name: "_web._tcp.marathon.mesos",
  ttl: 30,
  data: { priority: 0, weight: 1, port: 31005, target: "web-abc12-s1.marathon.slave.mesos" },
};

interface Harness {
  port: number;
  doh: FakeDohServer;
  upstream: FakeDnsServer;
  forwarder: DnsForwarder;
  log: CollectedLog;
  resolvConf: string;
}

function tempDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-dns-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A forwarder on a free port with both fakes behind it; `resolv` replaces the resolv.conf text. */
async function harness(
  options: { tuning?: DnsForwarderOptions["tuning"]; resolv?: (upstream: FakeDnsServer) => string; dohUrl?: (doh: FakeDohServer) => string } = {},
): Promise<Harness> {
  const doh = new FakeDohServer();
  cleanups.push(() => doh.stop());
  doh.add(WEB_A, WEB_SRV);
  const upstream = await FakeDnsServer.start();
  cleanups.push(() => upstream.stop());
  upstream.records.set("example.org", [{ type: "A", name: "example.org", ttl: 300, data: "93.184.216.34" }]);
  const resolvConf = join(tempDir(), "resolv.conf");
  writeFileSync(resolvConf, options.resolv?.(upstream) ?? `# test\nsearch example\n${upstream.nameserverLine}\n`);
  const log = collectLog();
  const forwarder = await DnsForwarder.start({
    listen: { host: "127.0.0.1", port: 0 },
    zones: ["mesos", "thisdcos.directory"],
    dohUrl: options.dohUrl?.(doh) ?? doh.url("x"),
    bearer: () => "credential-x",
    resolvConf,
    log: log.log,
    tuning: { logWindowMs: 60_000, ...options.tuning },
  });
  cleanups.push(() => forwarder.stop());
  return { port: forwarder.bound.port, doh, upstream, forwarder, log, resolvConf };
}

describe("DNS forwarder: cluster zones through DoH", () => {
  test("an A query is asked by POST with the agent credential and answered with the client's id", async () => {
    const { port, doh, upstream, log } = await harness();
    const answer = await queryUdp(port, queryOf("web.marathon.mesos", "A", 4242));
    expect(answer.id).toBe(4242);
    expect(answer.type).toBe("response");
    expect(answer.rcode).toBe("NOERROR");
    expect(answer.flag_aa).toBe(true);
    expect(answer.flag_ra).toBe(true);
    expect(answer.answers).toEqual([expect.objectContaining({ type: "A", name: "web.marathon.mesos", ttl: 30, data: "10.0.0.7" })]);
    expect(doh.requests).toHaveLength(1);
    const request = doh.requests[0];
    expect(request).toMatchObject({ method: "POST", path: "/c/x/dns-query", authorization: "Bearer credential-x", contentType: "application/dns-message" });
    // RFC 8484 §4.1: id 0, so identical queries look identical to HTTP caches.
    expect(request?.query.id).toBe(0);
    expect(request?.query.questions).toEqual([{ name: "web.marathon.mesos", type: "A", class: "IN" }]);
    expect(upstream.queries).toHaveLength(0);
    expect(log.events("dns_listening")[0]).toMatchObject({ level: "info", address: `127.0.0.1:${port}`, zones: ["mesos", "thisdcos.directory"] });
  });

  test("an SRV query gets the task's port and target", async () => {
    const { port } = await harness();
    const answer = await queryUdp(port, queryOf("_web._tcp.marathon.mesos", "SRV", 7));
    expect(answer.answers?.[0]).toMatchObject({ type: "SRV", data: { port: 31005, target: "web-abc12-s1.marathon.slave.mesos", priority: 0, weight: 1 } });
  });

  test("the second identical query comes from the cache: new id, TTL lowered by the age, no DoH request", async () => {
    let now = 1_000_000;
    const { port, doh } = await harness({ tuning: { now: () => now } });
    const first = await queryUdp(port, queryOf("web.marathon.mesos", "A", 1));
    expect(first.answers?.[0]?.ttl).toBe(30);
    now += 7_400;
    // Another spelling of the same name: the cache key is case-insensitive, the answer keeps the client's case.
    const second = await queryUdp(port, queryOf("WEB.Marathon.mesos", "A", 2));
    expect(second.id).toBe(2);
    expect(second.questions?.[0]?.name).toBe("WEB.Marathon.mesos");
    expect(second.answers?.[0]).toMatchObject({ name: "WEB.Marathon.mesos", ttl: 23, data: "10.0.0.7" });
    expect(doh.requests).toHaveLength(1);
    // Another type is another key.
    await queryUdp(port, queryOf("web.marathon.mesos", "AAAA", 3));
    expect(doh.requests).toHaveLength(2);
  });

  test("an answer expires after its TTL (1 s) and is asked again", async () => {
    const { port, doh } = await harness();
    doh.add({ type: "A", name: "short.marathon.mesos", ttl: 1, data: "10.0.0.9" });
    await queryUdp(port, queryOf("short.marathon.mesos", "A", 1));
    await queryUdp(port, queryOf("short.marathon.mesos", "A", 2));
    expect(doh.requests).toHaveLength(1);
    await Bun.sleep(1_050);
    const again = await queryUdp(port, queryOf("short.marathon.mesos", "A", 3));
    expect(again.answers?.[0]?.ttl).toBe(1);
    expect(doh.requests).toHaveLength(2);
  });

  test("NXDOMAIN is cached for the SOA minimum; SERVFAIL and REFUSED answers are not cached", async () => {
    let now = 5_000_000;
    const { port, doh } = await harness({ tuning: { now: () => now } });
    const missing = await queryUdp(port, queryOf("gone.marathon.mesos", "A", 1));
    expect(missing.rcode).toBe("NXDOMAIN");
    expect(missing.authorities?.[0]).toMatchObject({ type: "SOA" });
    await queryUdp(port, queryOf("gone.marathon.mesos", "A", 2));
    expect(doh.requests).toHaveLength(1);
    now += NEGATIVE_TTL * 1_000;
    await queryUdp(port, queryOf("gone.marathon.mesos", "A", 3));
    expect(doh.requests).toHaveLength(2);

    for (const rcode of [2, 5]) {
      doh.respond = (query) => ({ body: dohAnswer(query, [], rcode), headers: { "content-type": "application/dns-message" } });
      const before = doh.requests.length;
      const first = await queryUdp(port, queryOf(`flaky${rcode}.marathon.mesos`, "A", 10));
      const second = await queryUdp(port, queryOf(`flaky${rcode}.marathon.mesos`, "A", 11));
      expect([first.rcode, second.rcode]).toEqual(rcode === 2 ? ["SERVFAIL", "SERVFAIL"] : ["REFUSED", "REFUSED"]);
      expect(doh.requests.length - before).toBe(2);
    }
  });

  test("identical queries in flight share one DoH request", async () => {
    const { port, doh } = await harness();
    doh.delayMs = 100;
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => queryUdp(port, queryOf("web.marathon.mesos", "A", 100 + i))));
    expect(answers.map((answer) => answer.id)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
    expect(answers.every((answer) => answer.answers?.[0]?.type === "A")).toBe(true);
    expect(doh.requests).toHaveLength(1);
  });

  test("sequential DoH requests reuse one kept-alive connection; concurrent ones stay under the cap", async () => {
    const { port, doh } = await harness({ tuning: { doh: { maxInFlight: 3 } } });
    for (let i = 0; i < 5; i++) await queryUdp(port, queryOf(`seq${i}.marathon.mesos`, "A", i));
    expect(doh.requests).toHaveLength(5);
    expect(new Set(doh.requests.map((request) => request.remotePort)).size).toBe(1);

    doh.delayMs = 50;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => queryUdp(port, queryOf(`par${i}.marathon.mesos`, "A", i))));
    expect(answers.every((answer) => answer.rcode === "NXDOMAIN")).toBe(true);
    expect(doh.requests).toHaveLength(17);
    expect(doh.maxInFlight).toBe(3);
    // At most one connection per request slot (plus the one kept from before).
    expect(new Set(doh.requests.map((request) => request.remotePort)).size).toBeLessThanOrEqual(4);
  });

  test("a zone answer too large for UDP is truncated (TC) and complete over TCP", async () => {
    const { port, doh } = await harness();
    const many: Answer[] = Array.from({ length: 60 }, (_, i) => ({
      type: "A",
      name: "big.marathon.mesos",
      ttl: 30,
      data: `10.1.${Math.floor(i / 250)}.${i % 250}`,
    }));
    doh.add(...many);
    const overUdp = await queryUdp(port, queryOf("big.marathon.mesos", "A", 1));
    expect(overUdp.flag_tc).toBe(true);
    expect(overUdp.answers).toEqual([]);
    // A client advertising a larger EDNS buffer gets it all over UDP, and an OPT record back.
    const withEdns = await queryUdp(
      port,
      queryOf("big.marathon.mesos", "A", 2, { additionals: [{ type: "OPT", name: ".", data: [], udpPayloadSize: 4096 } as Answer] }),
    );
    expect(withEdns.flag_tc).toBe(false);
    expect(withEdns.answers).toHaveLength(60);
    expect(withEdns.additionals?.map((record) => record.type)).toEqual(["OPT"]);
    const [overTcp] = await queryTcp(port, [queryOf("big.marathon.mesos", "A", 3)]);
    expect(overTcp?.flag_tc).toBe(false);
    expect(overTcp?.answers).toHaveLength(60);
  });

  test("a cluster name of another class than IN is REFUSED without asking DoH", async () => {
    const { port, doh } = await harness();
    const answer = await queryUdp(port, { type: "query", id: 9, flags: 0x100, questions: [{ name: "web.marathon.mesos", type: "A", class: "CH" }] });
    expect(answer.rcode).toBe("REFUSED");
    expect(doh.requests).toHaveLength(0);
  });

  test("the credential goes only where configured; a key URL is asked without it", async () => {
    const doh = new FakeDohServer();
    cleanups.push(() => doh.stop());
    const forwarder = await DnsForwarder.start({
      listen: { host: "127.0.0.1", port: 0 },
      zones: ["mesos"],
      dohUrl: `${doh.origin}/dns/k3y/dns-query`,
      resolvConf: "/nonexistent",
      log: collectLog().log,
    });
    cleanups.push(() => forwarder.stop());
    await queryUdp(forwarder.bound.port, queryOf("web.marathon.mesos", "A", 1));
    expect(doh.requests[0]).toMatchObject({ path: "/dns/k3y/dns-query", authorization: null });
  });
});

describe("DNS forwarder: other names through resolv.conf", () => {
  test("an out-of-zone name is forwarded to the resolv.conf nameserver as sent, and its answer returned", async () => {
    const { port, doh, upstream } = await harness();
    const answer = await queryUdp(port, queryOf("example.org", "A", 555));
    expect(answer.id).toBe(555);
    expect(answer.answers?.[0]).toMatchObject({ data: "93.184.216.34", ttl: 300 });
    expect(upstream.queries.map((q) => [q.transport, q.query.id, q.query.questions?.[0]?.name])).toEqual([["udp", 555, "example.org"]]);
    expect(doh.requests).toHaveLength(0);
    const missing = await queryUdp(port, queryOf("nope.example.org", "A", 556));
    expect(missing.rcode).toBe("NXDOMAIN");
  });

  test("a truncated UDP answer: a UDP client gets TC, a TCP client the full answer fetched over TCP", async () => {
    const { port, upstream } = await harness();
    upstream.records.set("large.example.org", [{ type: "A", name: "large.example.org", ttl: 60, data: "192.0.2.1" }]);
    upstream.big.add("large.example.org");
    const overUdp = await queryUdp(port, queryOf("large.example.org", "A", 1));
    expect(overUdp.flag_tc).toBe(true);
    const [overTcp] = await queryTcp(port, [queryOf("large.example.org", "A", 2)]);
    expect(overTcp?.flag_tc).toBe(false);
    expect(overTcp?.answers?.[0]).toMatchObject({ data: "192.0.2.1" });
    expect(upstream.queries.map((q) => q.transport)).toEqual(["udp", "udp", "tcp"]);
  });

  test("a dead nameserver is skipped after its timeout, and the next queries start with the live one", async () => {
    const dead = await FakeDnsServer.start({ udpOnly: true });
    dead.silent = true;
    cleanups.push(() => dead.stop());
    const { port, upstream } = await harness({
      tuning: { plain: { udpTimeoutMs: 200 } },
      resolv: (live) => `nameserver 127.0.0.1:${dead.port}\n${live.nameserverLine}\n`,
    });
    const started = Date.now();
    expect((await queryUdp(port, queryOf("example.org", "A", 1))).answers).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const again = Date.now();
    expect((await queryUdp(port, queryOf("example.org", "A", 2))).answers).toHaveLength(1);
    expect(Date.now() - again).toBeLessThan(150);
    expect(upstream.queries).toHaveLength(2);
  });

  test("when resolv.conf names only the forwarder itself, other names get SERVFAIL and no loop", async () => {
    const resolvConf = join(tempDir(), "resolv.conf");
    const log = collectLog();
    // Port 0 would be a different port after binding; bind a known free port instead.
    const probe = await DnsForwarder.start({
      listen: { host: "127.0.0.1", port: 0 },
      zones: ["mesos"],
      dohUrl: "http://127.0.0.1:1/dns-query",
      resolvConf: "/nonexistent",
      log: collectLog().log,
    });
    const selfPort = probe.bound.port;
    probe.stop();
    writeFileSync(resolvConf, `nameserver 127.0.0.1:${selfPort}\n`);
    const forwarder = await DnsForwarder.start({
      listen: { host: "127.0.0.1", port: selfPort },
      zones: ["mesos"],
      dohUrl: "http://127.0.0.1:1/dns-query",
      resolvConf,
      log: log.log,
    });
    cleanups.push(() => forwarder.stop());
    const answers = await Promise.all([1, 2, 3].map((id) => queryUdp(selfPort, queryOf("example.org", "A", id))));
    expect(answers.map((answer) => answer.rcode)).toEqual(["SERVFAIL", "SERVFAIL", "SERVFAIL"]);
    expect(log.events("dns_listening")[0]).toMatchObject({ nameservers: [], skippedSelf: [`127.0.0.1:${selfPort}`] });
    expect(log.events("dns_upstream_error")).toHaveLength(1);
    expect(log.events("dns_upstream_error")[0]?.error).toContain("no nameserver other than this forwarder");
  });
});

describe("DNS forwarder: transports and failures", () => {
  test("TCP: several queries on one connection, answered by id", async () => {
    const { port } = await harness();
    const answers = await queryTcp(port, [
      queryOf("web.marathon.mesos", "A", 11),
      queryOf("_web._tcp.marathon.mesos", "SRV", 12),
      queryOf("example.org", "A", 13),
    ]);
    const byId = new Map(answers.map((answer) => [answer.id, answer]));
    expect([...byId.keys()].sort()).toEqual([11, 12, 13]);
    expect(byId.get(11)?.answers?.[0]).toMatchObject({ data: "10.0.0.7" });
    expect(byId.get(12)?.answers?.[0]).toMatchObject({ data: { port: 31005 } });
    expect(byId.get(13)?.answers?.[0]).toMatchObject({ data: "93.184.216.34" });
  });

  test("TCP: an idle connection is closed after the idle timeout", async () => {
    const { port } = await harness({ tuning: { tcpIdleMs: 300 } });
    const { promise: closed, resolve } = Promise.withResolvers<number>();
    const opened = Date.now();
    await Bun.connect({ hostname: "127.0.0.1", port, socket: { data: () => {}, close: () => resolve(Date.now() - opened) } });
    expect(await closed).toBeGreaterThanOrEqual(290);
  });

  test("DoH unreachable, 5xx, wrong content or slow: SERVFAIL, logged once per burst", async () => {
    const { port, doh, log } = await harness({ tuning: { doh: { timeoutMs: 150 } } });
    const failures: ((query: Parameters<FakeDohServer["respond"]>[0]) => ReturnType<FakeDohServer["respond"]>)[] = [
      () => ({ status: 503, body: new TextEncoder().encode("down") }),
      (query) => ({ body: encode(query), headers: { "content-type": "application/dns-message" } }),
      () => ({ body: new TextEncoder().encode("<html>"), headers: { "content-type": "text/html" } }),
      () => ({ delayMs: 400, status: 200 }),
    ];
    for (const [i, failure] of failures.entries()) {
      doh.respond = failure;
      const answer = await queryUdp(port, queryOf(`f${i}.marathon.mesos`, "A", 70 + i));
      expect(answer).toMatchObject({ id: 70 + i, rcode: "SERVFAIL" });
      expect(answer.questions?.[0]?.name).toBe(`f${i}.marathon.mesos`);
    }
    const errors = log.events("dns_upstream_error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ level: "warn", upstream: "doh", error: "HTTP 503" });
  });

  test("DoH endpoint down (connection refused): SERVFAIL, and the log names the upstream", async () => {
    const { port, log } = await harness({ dohUrl: () => "http://127.0.0.1:1/c/x/dns-query" });
    const answer = await queryUdp(port, queryOf("web.marathon.mesos", "A", 3));
    expect(answer.rcode).toBe("SERVFAIL");
    expect(log.events("dns_upstream_error")[0]).toMatchObject({ upstream: "doh", error: expect.stringContaining("request failed") });
  });

  test("malformed queries: too short is dropped, a bad body gets FORMERR, a response is dropped, a status query NOTIMP", async () => {
    const { port, upstream } = await harness();
    expect(await exchangeUdp(port, new Uint8Array([1, 2, 3, 4, 5]), 150)).toBeUndefined();
    // A header claiming one question, and no question.
    const headerOnly = encode({ type: "query", id: 0xbeef, flags: 0x100 });
    headerOnly[5] = 1;
    const formerr = decode((await exchangeUdp(port, headerOnly)) ?? new Uint8Array());
    expect(formerr).toMatchObject({ id: 0xbeef, type: "response", rcode: "FORMERR" });
    const two = decode(
      (await exchangeUdp(
        port,
        encode({
          type: "query",
          id: 5,
          questions: [
            { name: "a.mesos", type: "A" },
            { name: "b.mesos", type: "A" },
          ],
        }),
      )) ?? new Uint8Array(),
    );
    expect(two).toMatchObject({ id: 5, rcode: "FORMERR" });
    expect(await exchangeUdp(port, encode({ type: "response", id: 6, questions: [{ name: "example.org", type: "A" }] }), 150)).toBeUndefined();
    const status = decode((await exchangeUdp(port, encode({ type: "query", id: 8, flags: 2 << 11 }))) ?? new Uint8Array());
    expect(status).toMatchObject({ id: 8, rcode: "NOTIMP", opcode: "STATUS" });
    expect(upstream.queries).toHaveLength(0);
  });

  test("thousands of random and mutated datagrams do not crash it; a good query still works after", async () => {
    const { port } = await harness();
    const sender = await Bun.udpSocket({ hostname: "127.0.0.1", binaryType: "uint8array", socket: { data: (_s, data) => void replies.push(data.slice()) } });
    cleanups.push(() => sender.close());
    const replies: Uint8Array[] = [];
    const valid = encode(queryOf("web.marathon.mesos", "A", 1));
    const random = seeded(42);
    for (let i = 0; i < 4_000; i++) {
      const datagram = i % 2 === 0 ? randomBytes(random, Math.floor(random() * 80)) : mutate(random, valid);
      sender.send(datagram, port, "127.0.0.1");
      if (i % 200 === 0) await Bun.sleep(1);
    }
    await Bun.sleep(200);
    expect(replies.length).toBeGreaterThan(100);
    // Every reply is a response, at least as far as its header goes.
    expect(replies.filter((reply) => peekHeader(reply)?.isResponse !== true)).toEqual([]);
    const answer = await queryUdp(port, queryOf("web.marathon.mesos", "A", 777));
    expect(answer).toMatchObject({ id: 777, rcode: "NOERROR" });
    expect(answer.answers?.[0]).toMatchObject({ data: "10.0.0.7" });
  });

  test("garbage over TCP does not crash it: the connection ends or idles, the forwarder answers after", async () => {
    const { port } = await harness({ tuning: { tcpIdleMs: 300 } });
    const random = seeded(7);
    for (let i = 0; i < 20; i++) {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data: () => {} } });
      socket.write(randomBytes(random, 1 + Math.floor(random() * 3_000)));
      socket.end();
    }
    const [answer] = await queryTcp(port, [queryOf("web.marathon.mesos", "A", 5)]);
    expect(answer?.answers?.[0]).toMatchObject({ data: "10.0.0.7" });
  });

  test("IPv6: listens on [::1] and answers there", async () => {
    const doh = new FakeDohServer();
    cleanups.push(() => doh.stop());
    doh.add(WEB_A);
    const forwarder = await DnsForwarder.start({
      listen: { host: "::1", port: 0 },
      zones: ["mesos"],
      dohUrl: doh.url("x"),
      resolvConf: "/nonexistent",
      log: collectLog().log,
    });
    cleanups.push(() => forwarder.stop());
    expect(forwarder.address).toBe(`[::1]:${forwarder.bound.port}`);
    const answer = await queryUdp(forwarder.bound.port, queryOf("web.marathon.mesos", "A", 61), "::1");
    expect(answer.answers?.[0]).toMatchObject({ data: "10.0.0.7" });
  });

  test("a port already in use fails start with the error", async () => {
    const { port } = await harness();
    await expect(
      DnsForwarder.start({
        listen: { host: "127.0.0.1", port },
        zones: ["mesos"],
        dohUrl: "http://127.0.0.1:1/",
        resolvConf: "/nonexistent",
        log: collectLog().log,
      }),
    ).rejects.toThrow(/EADDRINUSE|in use/i);
  });
});
