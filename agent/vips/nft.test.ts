import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import net from "node:net";
import type { Vip } from "../../protocol/vips.ts";
import { nftables } from "../test-support/nftables.ts";
import { NftVips, nftTableName, renderNftDelete, renderNftTable } from "./nft.ts";

/**
 * The kernel data path's rules: rendered from a VIP table (pure), and loaded, replaced and
 * removed for real with nft when the test runs as root on a kernel with nftables NAT.
 */

const vip = (ip: string, port: number, backends: [string, number, boolean?][]): Vip => ({
  name: `v-${ip}`,
  ip,
  port,
  backends: backends.map(([host, p, draining]) => ({ host, port: p, draining: draining ?? false })),
});

describe("renderNftTable", () => {
  test("one round-robin DNAT rule per VIP with live backends, in output and prerouting; draining backends left out", () => {
    const script = renderNftTable("dcx_vip_abc", [
      vip("11.0.0.5", 80, [
        ["10.0.0.2", 31000],
        ["10.0.0.3", 31001, true],
        ["10.0.0.4", 31002],
      ]),
    ]);
    const rule = "ip daddr 11.0.0.5 tcp dport 80 dnat ip to numgen inc mod 2 map { 0 : 10.0.0.2 . 31000, 1 : 10.0.0.4 . 31002 }";
    expect(script.split("\n").filter((l) => l.trim() === rule)).toHaveLength(2);
    expect(script).toContain("type nat hook output priority -100; policy accept;");
    expect(script).toContain("type nat hook prerouting priority -100; policy accept;");
    expect(script).not.toContain("reject");
  });

  test("replaces the whole table in one script: create if absent, delete, define", () => {
    const lines = renderNftTable("dcx_vip_abc", []).split("\n");
    expect(lines.slice(0, 3)).toEqual(["table ip dcx_vip_abc", "delete table ip dcx_vip_abc", "table ip dcx_vip_abc {"]);
    expect(renderNftDelete("dcx_vip_abc")).toBe("table ip dcx_vip_abc\ndelete table ip dcx_vip_abc\n");
  });

  test("a VIP whose backends are all draining (or none) is refused with a reset on output and forward, not translated", () => {
    const script = renderNftTable("dcx_vip_abc", [vip("11.0.0.6", 443, [["10.0.0.2", 31000, true]]), vip("11.0.0.7", 443, [])]);
    expect(script).not.toContain("dnat");
    expect(script.match(/ip daddr 11\.0\.0\.6 tcp dport 443 reject with tcp reset/g)).toHaveLength(2);
    expect(script.match(/ip daddr 11\.0\.0\.7 tcp dport 443 reject with tcp reset/g)).toHaveLength(2);
    expect(script).toContain("type filter hook forward priority 0; policy accept;");
  });

  test("refuses, writing nothing, anything that is not an address, a port or the agent's table name", () => {
    const bad: [string, () => string][] = [
      [
        "VIP 1.2.3.4; flush ruleset:80: '1.2.3.4; flush ruleset' is not an IPv4 address",
        () => renderNftTable("dcx_vip_a", [vip("1.2.3.4; flush ruleset", 80, [["10.0.0.2", 1]])]),
      ],
      [
        "backend of 11.0.0.5:80: '10.0.0.2 } ; flush ruleset' is not an IPv4 address",
        () => renderNftTable("dcx_vip_a", [vip("11.0.0.5", 80, [["10.0.0.2 } ; flush ruleset", 1]])]),
      ],
      ["backend of 11.0.0.5:80: '10.0.0.256' is not an IPv4 address", () => renderNftTable("dcx_vip_a", [vip("11.0.0.5", 80, [["10.0.0.256", 1]])])],
      ["VIP 11.0.0.5: 0 is not a TCP port", () => renderNftTable("dcx_vip_a", [vip("11.0.0.5", 0, [["10.0.0.2", 1]])])],
      ["backend 10.0.0.2: 65536 is not a TCP port", () => renderNftTable("dcx_vip_a", [vip("11.0.0.5", 80, [["10.0.0.2", 65536]])])],
      ["nft table name 'nat' is not dcx_vip_ followed by [a-z0-9_]", () => renderNftTable("nat", [])],
      ["nft table name 'dcx_vip_x; delete table ip nat' is not dcx_vip_ followed by [a-z0-9_]", () => renderNftDelete("dcx_vip_x; delete table ip nat")],
    ];
    for (const [message, render] of bad) expect(render).toThrow(message);
  });

  test("the table name is stable per work dir and apart between agents", () => {
    expect(nftTableName("/var/lib/dcx")).toBe(nftTableName("/var/lib/dcx"));
    expect(nftTableName("/var/lib/dcx")).not.toBe(nftTableName("/var/lib/dcx2"));
    expect(nftTableName("/var/lib/dcx")).toMatch(/^dcx_vip_[0-9a-f]{12}$/);
  });
});

/** A TCP server answering every connection with `name`. */
async function server(host: string, name: string): Promise<{ port: number; close(): void }> {
  const s = net.createServer((c) => c.end(name));
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

function ask(ip: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const c = net.connect({ host: ip, port });
    c.on("data", (d) => (got += d.toString()));
    c.on("end", () => resolve(got));
    c.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
  });
}

const tableExists = (table: string) => spawnSync("nft", ["list", "table", "ip", table]).status === 0;

describe.skipIf(nftables.skip)("NftVips on this kernel", () => {
  const table = `dcx_vip_test_${process.pid}`;
  const other = `dcx_vip_other_${process.pid}`;
  afterAll(() => void spawnSync("nft", ["-f", "-"], { input: renderNftDelete(table) + renderNftDelete(other) }));

  test("loads a VIP, balances it round robin, drains a backend, and removes only its own table", async () => {
    nftables.require();
    const a = await server("127.0.0.2", "A");
    const b = await server("127.0.0.3", "B");
    const ip = `127.11.${1 + Math.floor(Math.random() * 120)}.${1 + Math.floor(Math.random() * 250)}`;
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    try {
      const nft = new NftVips(table);
      // A crashed agent's rules, and a table the agent did not make.
      await nft.apply([vip(ip, port, [["127.0.0.9", 9]])]);
      spawnSync("nft", ["-f", "-"], { input: renderNftTable(other, []) });

      await new NftVips(table).apply([
        vip(ip, port, [
          ["127.0.0.2", a.port],
          ["127.0.0.3", b.port],
        ]),
      ]);
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await ask(ip, port));
      expect(seen.sort()).toEqual(["A", "A", "B", "B"]);

      await nft.apply([
        vip(ip, port, [
          ["127.0.0.2", a.port, true],
          ["127.0.0.3", b.port],
        ]),
      ]);
      for (let i = 0; i < 3; i++) expect(await ask(ip, port)).toBe("B");

      await nft.apply([vip(ip, port, [["127.0.0.2", a.port, true]])]);
      expect(await ask(ip, port)).toBe("ECONNREFUSED");

      await nft.remove();
      expect(tableExists(table)).toBe(false);
      expect(tableExists(other)).toBe(true);
      // Removing what is not there is no error (a second stop, a table already cleared).
      await nft.remove();
    } finally {
      a.close();
      b.close();
    }
  });

  test("a script nft refuses leaves the table as it was, and the error carries nft's message", async () => {
    nftables.require();
    const nft = new NftVips(table, async (script) => {
      const child = Bun.spawn(["nft", "-f", "-"], {
        stdin: new TextEncoder().encode(script.replace("policy accept;", "policy accept; bogus;")),
        stderr: "pipe",
      });
      return { code: await child.exited, stderr: (await new Response(child.stderr).text()).trim() };
    });
    await new NftVips(table).apply([vip("127.11.200.1", 80, [["127.0.0.2", 8080]])]);
    await expect(nft.apply([])).rejects.toThrow(/nft -f failed \(exit 1\).*bogus/s);
    const listed = spawnSync("nft", ["list", "table", "ip", table]).stdout.toString();
    expect(listed).toContain("127.11.200.1");
  });
});
