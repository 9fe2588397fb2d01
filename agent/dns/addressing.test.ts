import { describe, expect, test } from "bun:test";
import { clusterDohUrl, redactedUrl, sendsCredential } from "./forwarder.ts";
import { formatHostPort, parseHostPort, reachableAddress } from "./listen-address.ts";
import { inZones, parseZone } from "./zones.ts";

describe("listen addresses", () => {
  test("IPv4 host:port and bracketed IPv6", () => {
    expect(parseHostPort("127.0.0.1:5353")).toEqual({ host: "127.0.0.1", port: 5353 });
    expect(parseHostPort("[::1]:53")).toEqual({ host: "::1", port: 53 });
    expect(parseHostPort("0.0.0.0:0")).toEqual({ host: "0.0.0.0", port: 0 });
    expect(formatHostPort({ host: "::1", port: 53 })).toBe("[::1]:53");
    expect(formatHostPort({ host: "10.0.0.1", port: 53 })).toBe("10.0.0.1:53");
  });

  test("rejects names, unbracketed IPv6, missing or out-of-range ports", () => {
    for (const bad of ["localhost:53", "::1:53", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "[127.0.0.1]:53", "[::1]", ""]) {
      expect(() => parseHostPort(bad)).toThrow();
    }
  });

  test("a wildcard bind is handed to tasks as loopback", () => {
    expect(reachableAddress({ host: "0.0.0.0", port: 53 })).toEqual({ host: "127.0.0.1", port: 53 });
    expect(reachableAddress({ host: "::", port: 53 })).toEqual({ host: "::1", port: 53 });
    expect(reachableAddress({ host: "10.0.0.4", port: 53 })).toEqual({ host: "10.0.0.4", port: 53 });
  });
});

describe("zones", () => {
  test("names in or below a zone, any case, with or without the trailing dot", () => {
    const zones = ["mesos", "thisdcos.directory"];
    expect(inZones("web.marathon.mesos", zones)).toBe(true);
    expect(inZones("WEB.Marathon.MESOS.", zones)).toBe(true);
    expect(inZones("mesos", zones)).toBe(true);
    expect(inZones("web-shop.marathon.autoip.dcos.thisdcos.directory", zones)).toBe(true);
    expect(inZones("notmesos", zones)).toBe(false);
    expect(inZones("mesos.example.com", zones)).toBe(false);
    expect(inZones(".", zones)).toBe(false);
  });

  test("zone names are validated and canonicalized", () => {
    expect(parseZone(" Cluster.Local. ")).toBe("cluster.local");
    for (const bad of ["", "a..b", "-x.mesos", "a b"]) expect(() => parseZone(bad)).toThrow();
  });
});

describe("DoH endpoint", () => {
  test("the control plane's URL from the master URL, ws(s) mapped to http(s)", () => {
    expect(clusterDohUrl("http://127.0.0.1:8787", "c1")).toBe("http://127.0.0.1:8787/c/c1/dns-query");
    expect(clusterDohUrl("wss://dcx.example.com/base", "prod")).toBe("https://dcx.example.com/base/c/prod/dns-query");
    expect(clusterDohUrl("ws://h:1", "c")).toBe("http://h:1/c/c/dns-query");
  });

  test("the credential goes only to the master's origin", () => {
    expect(sendsCredential("https://dcx.example.com/c/prod/dns-query", "wss://dcx.example.com")).toBe(true);
    expect(sendsCredential("https://dns.example.net/dns/KEY/dns-query", "https://dcx.example.com")).toBe(false);
    expect(sendsCredential("http://dcx.example.com/c/prod/dns-query", "https://dcx.example.com")).toBe(false);
  });

  test("a key in the DoH URL never reaches the log", () => {
    expect(redactedUrl("https://dcx.example.com/dns/s3cr3t/dns-query")).toBe("https://dcx.example.com/dns/[redacted]/dns-query");
    expect(redactedUrl("http://127.0.0.1:8787/c/c1/dns-query?x=1")).toBe("http://127.0.0.1:8787/c/c1/dns-query");
  });
});
