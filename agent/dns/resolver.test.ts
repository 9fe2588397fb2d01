import { describe, expect, test } from "bun:test";
import { encode } from "@leichtgewicht/dns-packet";
import type { Question } from "@leichtgewicht/dns-packet";
import { collectLog } from "../test-support/log-collector.ts";
import { AnswerCache } from "./answer-cache.ts";
import { BurstLog } from "./burst-log.ts";
import { DohClient, leaseOf, maxAge } from "./doh-client.ts";
import { decodeStrict, peekHeader } from "./messages.ts";
import { Resolver } from "./resolver.ts";
import type { PlainUpstream, ZoneUpstream } from "./resolver.ts";
import { dohAnswer } from "./test-support/fake-doh-server.ts";
import { mutate, randomBytes, seeded } from "./test-support/fuzz.ts";
import { UpstreamError } from "./upstream-error.ts";

/** The resolver without sockets: stub upstreams, so thousands of inputs run in well under a second. */

const doh: ZoneUpstream = {
  query: async (question: Question) => {
    const answer = decodeStrict(dohAnswer({ id: 0, questions: [question] }, [{ type: "A", name: question.name, ttl: 5, data: "10.0.0.1" }]));
    if (answer === undefined) throw new Error("stub answer did not decode");
    return { answer };
  },
};
const plain: PlainUpstream = { forward: async () => Promise.reject(new UpstreamError("no resolvers in this test", "resolv.conf")) };

function resolver(zone: ZoneUpstream = doh) {
  const log = collectLog();
  const burst = new BurstLog(log.log);
  return { log, resolver: new Resolver({ zones: ["mesos"], doh: zone, plain, cache: new AnswerCache(), onUpstreamError: (error) => burst.report(error) }) };
}

describe("Resolver: any input", () => {
  test("10,000 random and mutated messages: never a throw; every answer a response with the query's id", async () => {
    const { resolver: r, log } = resolver();
    const random = seeded(1234);
    const seeds = [
      encode({ type: "query", id: 1, flags: 0x100, questions: [{ name: "web.marathon.mesos", type: "SRV" }] }),
      encode({ type: "query", id: 2, flags: 0x100, questions: [{ name: "a.mesos", type: "A" }], additionals: [{ type: "OPT", name: ".", data: [] }] }),
      encode({ type: "query", id: 3, flags: 0x100, questions: [{ name: "example.org", type: "TXT" }] }),
    ];
    let answered = 0;
    const wrong: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const seed = seeds[i % seeds.length] ?? new Uint8Array();
      const input = i % 4 === 0 ? randomBytes(random, Math.floor(random() * 100)) : mutate(random, seed);
      const output = await r.answer(input, i % 2 === 0 ? "udp" : "tcp");
      if (output === undefined) continue;
      answered += 1;
      const header = peekHeader(output);
      const fits = i % 2 === 1 || output.length <= 4096;
      if (header?.isResponse !== true || header.id !== peekHeader(input)?.id || !fits) wrong.push(Buffer.from(input).toString("hex"));
    }
    expect(wrong).toEqual([]);
    expect(answered).toBeGreaterThan(5_000);
    // Some inputs must have reached each path: FORMERR, cluster answers, and forwarding.
    expect(log.events("dns_upstream_error").length).toBeGreaterThan(0);
  });

  test("an unexpected failure inside becomes SERVFAIL and a log line, not a crash", async () => {
    const { resolver: r, log } = resolver({ query: () => Promise.reject(new TypeError("boom")) });
    const output = await r.answer(encode({ type: "query", id: 5, questions: [{ name: "x.mesos", type: "A" }] }), "udp");
    expect(decodeStrict(output ?? new Uint8Array())).toMatchObject({ id: 5, rcode: "SERVFAIL" });
    expect(log.events("dns_upstream_error")[0]).toMatchObject({ upstream: "doh", error: "boom" });
  });
});

describe("BurstLog", () => {
  test("logs the first failure of each upstream, counts the rest of the burst, and says so in the next line", () => {
    const log = collectLog();
    let now = 0;
    const burst = new BurstLog(log.log, 1_000, () => now);
    for (let i = 0; i < 5; i++) burst.report(new UpstreamError(`e${i}`, "doh"));
    burst.report(new UpstreamError("r", "resolv.conf"));
    now = 1_000;
    burst.report(new UpstreamError("later", "doh"));
    expect(log.events("dns_upstream_error").map((e) => [e.upstream, e.error, e.suppressed])).toEqual([
      ["doh", "e0", 0],
      ["resolv.conf", "r", 0],
      ["doh", "later", 4],
    ]);
  });
});

describe("DohClient", () => {
  test("Cache-Control: max-age read, no-cache and no-store are 0, nothing else counts", () => {
    expect([maxAge("max-age=30"), maxAge("public, Max-Age = 7"), maxAge("no-cache"), maxAge("private, no-store"), maxAge("public"), maxAge(null)]).toEqual([
      30,
      7,
      0,
      0,
      undefined,
      undefined,
    ]);
  });

  test("the DNS lease header is read as whole milliseconds; anything else is no lease", () => {
    expect([leaseOf("750"), leaseOf(" 0 "), leaseOf("-5"), leaseOf("1e3"), leaseOf(""), leaseOf(null)]).toEqual([
      750,
      0,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  test("beyond the in-flight cap queries wait; beyond the queue they fail at once", async () => {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async () => (await Bun.sleep(100), new Response("x", { status: 503 })) });
    try {
      const client = new DohClient({ url: `http://127.0.0.1:${server.port}/`, maxInFlight: 1, maxQueued: 1 });
      const question: Question = { name: "a.mesos", type: "A" };
      const results = await Promise.allSettled([client.query(question), client.query(question), client.query(question)]);
      const messages = results.map((result) => (result.status === "rejected" && result.reason instanceof Error ? result.reason.message : "fulfilled"));
      expect(messages).toEqual(["HTTP 503", "HTTP 503", "1 DoH queries already waiting"]);
    } finally {
      await server.stop(true);
    }
  });
});
