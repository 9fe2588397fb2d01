import { describe, expect, it } from "vitest";
import { addressType, agentIdTail, canonicalTaskLabel, domainFrag, fqdn, mangleLabel, normalizeName, taskHash, zbase32 } from "../../control/dns/names.ts";

describe("mangleLabel (Mesos-DNS labels.RFC1123)", () => {
  // The cases of mesos-dns records/labels/labels_test.go (testFunc + TestRFC1123).
  const upstream: [string, string][] = [
    ["", ""],
    ["a", "a"],
    ["-", ""],
    ["a---", "a"],
    ["---a---", "a"],
    ["---a---b", "a---b"],
    ["a.b.c.d.e", "a-b-c-d-e"],
    ["a.c.d_de.", "a-c-d-de"],
    ["abc123", "abc123"],
    ["-abc123", "abc123"],
    ["abc123-", "abc123"],
    ["abc-123", "abc-123"],
    ["abc--123", "abc--123"],
    ["r29f.dev.angrypigs", "r29f-dev-angrypigs"],
    ["4abc123", "4abc123"],
    ["-4abc123", "4abc123"],
    ["89fdgsf---gs7-fgs--d7fddg-123", "89fdgsf---gs7-fgs--d7fddg-123"],
    ["89fdgsf---gs7-fgs--d7fddg-", "89fdgsf---gs7-fgs--d7fddg"],
    ["fd%gsf---gs7-f$gs--d7fddg-123", "fdgsf---gs7-fgs--d7fddg-123"],
    ["fd%gsf---gs7-f$gs--d7fddg123456789012345678901234567890123456789-123", "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"],
    ["##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-", "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789"],
    ["hello--------------------------------------------------------f", "hello--------------------------------------------------------f"],
    ["hello----------------------------------------------------------f", "hellof"],
  ];
  it.each(upstream)("%j → %j", (input, want) => {
    expect(mangleLabel(input)).toBe(want);
  });

  it("mangles Marathon group names, underscores, dots and uppercase", () => {
    expect(mangleLabel("web.shop")).toBe("web-shop");
    expect(mangleLabel("/shop/web")).toBe("shopweb");
    expect(mangleLabel("my_app")).toBe("my-app");
    expect(mangleLabel("MyApp.Prod")).toBe("myapp-prod");
    expect(mangleLabel("café au lait")).toBe("cafaulait");
  });

  it("cuts labels of 64 and more characters to 63", () => {
    expect(mangleLabel("a".repeat(64))).toBe("a".repeat(63));
    expect(mangleLabel("b".repeat(200))).toHaveLength(63);
    expect(mangleLabel("x".repeat(62) + "-yz")).toBe("x".repeat(62) + "y");
  });
});

describe("domainFrag (framework names)", () => {
  // mesos-dns records/labels/labels_test.go testDomainFrag, RFC 1123 column.
  const upstream: [string, string][] = [
    ["", ""],
    [".", ""],
    ["...", ""],
    ["abc.", "abc"],
    [".a.c", "a.c"],
    ["a..c.e", "a.c.e"],
    ["pod_123$abc.marathon-0.6.0-dev.mesos", "pod-123abc.marathon-0.6.0-dev.mesos"],
    ["space space.com", "spacespace.com"],
    ["(@ host . com", "host.com"],
    ["MiXeDcase.CoM", "mixedcase.com"],
  ];
  it.each(upstream)("%j → %j", (input, want) => {
    expect(domainFrag(input)).toBe(want);
  });
});

describe("zbase32", () => {
  it("matches the z-base-32 specification's whole-byte vectors", () => {
    // Zooko's human-oriented-base-32-encoding.txt examples (24-bit rows) and tv42/zbase32 docs.
    expect(zbase32(new Uint8Array([0xf0, 0xbf, 0xc7]))).toBe("6n9hq");
    expect(zbase32(new Uint8Array([0xd4, 0x7a, 0x04]))).toBe("4t7ye");
    expect(zbase32(new Uint8Array([0x10, 0x11, 0x10]))).toBe("nyety");
    expect(zbase32(new Uint8Array([0xff]))).toBe("9h");
    expect(zbase32(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]))).toBe("99999999");
    expect(zbase32(new Uint8Array([]))).toBe("");
  });
});

async function sha1(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)));
}

describe("canonical task names", () => {
  it("hashes a task id as the first 5 zbase32 characters of its SHA-1", async () => {
    // By hand: SHA-1("abc") = a9 99 3e 36 …; bits 10101 00110 01100 10011 11100 → 21 6 12 19 28 → "igcuh".
    expect([...(await sha1("abc")).slice(0, 4)]).toEqual([0xa9, 0x99, 0x3e, 0x36]);
    expect(await taskHash("abc")).toBe("igcuh");
    const id = "shop_web.3f9e7c4e-8b1a-11ee-b9d1-0242ac120002";
    expect(await taskHash(id)).toBe(zbase32(await sha1(id)).slice(0, 5));
  });

  it("takes the lowercased last dash segment of the agent id", () => {
    expect(agentIdTail("5e1c9c2a-7b7e-4a53-9a55-1f0e4c0a9e11-S3")).toBe("s3");
    expect(agentIdTail("20150820-171045-16842879-5050-1001-S0")).toBe("s0");
    expect(agentIdTail("plain")).toBe("plain");
  });

  it("has the shape {task}-{hash}-{agentIdTail}", async () => {
    const label = canonicalTaskLabel("nginx", await taskHash("nginx.1"), "x-S1");
    expect(label).toMatch(/^nginx-[ybndrfg8ejkmcpqxot1uwisza345h769]{5}-s1$/);
  });
});

describe("names and addresses", () => {
  it("normalises query names to lowercase without the trailing dot", () => {
    expect(normalizeName("Web-Shop.Marathon.MESOS.")).toBe("web-shop.marathon.mesos");
    expect(normalizeName("mesos")).toBe("mesos");
    expect(fqdn("Leader.Mesos")).toBe("leader.mesos.");
    expect(fqdn("leader.mesos.")).toBe("leader.mesos.");
  });

  it("tells A from AAAA and rejects what is not an IP literal", () => {
    expect(addressType("10.0.0.1")).toBe("A");
    expect(addressType("fd00::6")).toBe("AAAA");
    expect(addressType("2001:db8:0:0:0:0:0:1")).toBe("AAAA");
    expect(addressType("::ffff:10.0.0.1")).toBe("AAAA");
    expect(addressType("::")).toBe("AAAA");
    expect(addressType("256.0.0.1")).toBeNull();
    expect(addressType("agent-1.local")).toBeNull();
    expect(addressType("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(addressType("1::2::3")).toBeNull();
    expect(addressType("")).toBeNull();
  });
});
