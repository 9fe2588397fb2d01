import { afterEach, describe, expect, it } from "bun:test";
import net from "node:net";
import type { VipBackend, Vips } from "../../protocol/vips.ts";
import { collectLog } from "../test-support/log-collector.ts";
import { VIP_LINK, VipAddresses, type IpCommand } from "./addresses.ts";
import { VipBalancer } from "./balancer.ts";

/**
 * The agent's VIP balancer on real sockets, all on loopback: backends are TCP servers on
 * 127.0.0.1 that say who they are, the VIP is an address in 127.11.0.0/16.
 */

const RANGE = "127.11.0.0/16";
/** A VIP address and port unlikely to be used by anything else on the machine. */
const vipAddress = () => ({
  ip: `127.11.${128 + Math.floor(Math.random() * 120)}.${1 + Math.floor(Math.random() * 250)}`,
  port: 20_000 + Math.floor(Math.random() * 20_000),
});

interface Backend {
  id: string;
  port: number;
  server: net.Server;
  /** Sockets it holds open. */
  sockets: Set<net.Socket>;
}

/** A backend that answers each line with `<id>:<line>`, so a test sees which one it reached. */
async function startBackend(id: string): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.on("data", (data) => socket.write(`${id}:${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { id, port: address.port, server, sockets };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(ids: string[]) {
  const backends = await Promise.all(ids.map(startBackend));
  const logs = collectLog();
  const balancer = new VipBalancer({ log: logs.log });
  const vip = vipAddress();
  cleanups.push(() => {
    for (const b of backends) {
      for (const s of b.sockets) s.destroy();
      b.server.close();
    }
  });
  cleanups.push(() => balancer.stop());
  const frame = (list: VipBackend[], range = RANGE): Vips => ({
    type: "vips",
    range,
    vips: [{ name: "web.marathon.l4lb.thisdcos.directory", ...vip, backends: list }],
  });
  const backend = (b: Backend, draining = false): VipBackend => ({ host: "127.0.0.1", port: b.port, draining });
  return { backends, balancer, vip, logs, frame, backend };
}

/** An open connection through the VIP that can send a line and read the answer. */
async function connect(ip: string, port: number) {
  const socket = net.connect({ host: ip, port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  cleanups.push(() => void socket.destroy());
  const ask = (line: string) =>
    new Promise<string>((resolve, reject) => {
      socket.once("data", (d) => resolve(d.toString()));
      socket.once("error", reject);
      socket.once("close", () => reject(new Error("closed")));
      socket.write(line);
    });
  return { socket, ask };
}

/** Which backend one fresh connection reaches. */
async function reach(ip: string, port: number): Promise<string> {
  const c = await connect(ip, port);
  const answer = await c.ask("hi");
  c.socket.destroy();
  return answer.split(":")[0] ?? "";
}

describe("VipBalancer", () => {
  it("listens on the VIP and spreads new connections over every backend", async () => {
    const { backends, balancer, vip, frame, backend, logs } = await setUp(["a", "b", "c"]);
    await balancer.update(frame(backends.map((b) => backend(b))));
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) seen.push(await reach(vip.ip, vip.port));
    expect(new Set(seen)).toEqual(new Set(["a", "b", "c"]));
    // Sequential connections hold nothing open, so least-connections falls back to round robin: 3 each.
    expect(seen.filter((s) => s === "a").length).toBe(3);
    expect(logs.events("vip_listening")).toHaveLength(1);
    expect(balancer.status()).toEqual([expect.objectContaining({ ip: vip.ip, port: vip.port, backends: 3, listening: true, accepted: 9, refused: 0 })]);
  });

  it("prefers the backend with fewer open connections", async () => {
    const { backends, balancer, vip, frame, backend } = await setUp(["a", "b"]);
    await balancer.update(frame(backends.map((b) => backend(b))));
    // Connections held open: each goes to the backend holding fewer, so they split evenly.
    const reached: string[] = [];
    for (let i = 0; i < 6; i++) {
      const held = await connect(vip.ip, vip.port);
      reached.push((await held.ask("x")).split(":")[0] ?? "");
    }
    expect(reached.filter((r) => r === "a")).toHaveLength(3);
    for (let i = 0; i < 6; i += 2) expect(new Set(reached.slice(i, i + 2))).toEqual(new Set(["a", "b"]));
  });

  it("drains: a draining backend keeps its open connections and gets no new ones", async () => {
    const { backends, balancer, vip, frame, backend } = await setUp(["a", "b"]);
    const [a, b] = backends as [Backend, Backend];
    await balancer.update(frame([backend(a), backend(b)]));
    const open: Awaited<ReturnType<typeof connect>>[] = [];
    let onA: Awaited<ReturnType<typeof connect>> | undefined;
    while (onA === undefined) {
      const c = await connect(vip.ip, vip.port);
      if ((await c.ask("who")).startsWith("a:")) onA = c;
      else open.push(c);
    }
    await balancer.update(frame([backend(a, true), backend(b)]));
    for (let i = 0; i < 4; i++) expect(await reach(vip.ip, vip.port)).toBe("b");
    expect(await onA.ask("still")).toBe("a:still");
  });

  it("removes a backend the table leaves out, and closes the listener when the VIP goes", async () => {
    const { backends, balancer, vip, frame, backend, logs } = await setUp(["a", "b"]);
    const [a, b] = backends as [Backend, Backend];
    await balancer.update(frame([backend(a), backend(b)]));
    await balancer.update(frame([backend(b)]));
    for (let i = 0; i < 4; i++) expect(await reach(vip.ip, vip.port)).toBe("b");
    await balancer.update({ type: "vips", range: RANGE, vips: [] });
    await expect(connect(vip.ip, vip.port)).rejects.toThrow();
    expect(logs.events("vip_removed")).toHaveLength(1);
  });

  it("skips a backend that refuses, and refuses the client when every backend does", async () => {
    const { backends, balancer, vip, frame, backend } = await setUp(["a", "b"]);
    const [a, b] = backends as [Backend, Backend];
    await new Promise<void>((resolve) => a.server.close(() => resolve()));
    await balancer.update(frame([backend(a), backend(b)]));
    for (let i = 0; i < 4; i++) expect(await reach(vip.ip, vip.port)).toBe("b");
    await balancer.update(frame([backend(a)]));
    const c = await connect(vip.ip, vip.port);
    await expect(c.ask("anyone?")).rejects.toThrow();
    expect(balancer.status()[0]?.refused).toBe(1);
  });

  it("carries large bodies both ways with backpressure, and passes a half-close on", async () => {
    const { balancer, vip, frame, logs } = await setUp([]);
    // A backend that reads until the client's FIN, then answers with what it counted and 16 MB.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      let received = 0;
      socket.on("data", (d: Buffer) => (received += d.length));
      socket.on("end", () => {
        socket.write(`${received}\n`);
        socket.end(Buffer.alloc(16 * 1024 * 1024, 7));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => void server.close());
    const port = (server.address() as net.AddressInfo).port;
    await balancer.update(frame([{ host: "127.0.0.1", port, draining: false }]));
    const socket = net.connect({ host: vip.ip, port: vip.port, allowHalfOpen: true });
    cleanups.push(() => void socket.destroy());
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve) => socket.on("end", resolve));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.end(Buffer.alloc(8 * 1024 * 1024, 1));
    await ended;
    const body = Buffer.concat(chunks);
    const newline = body.indexOf(10);
    expect(body.subarray(0, newline).toString()).toBe(String(8 * 1024 * 1024));
    expect(body.length - newline - 1).toBe(16 * 1024 * 1024);
    expect(logs.events("vip_backend_failed")).toEqual([]);
  });

  it("after a registration, keeps serving until the grace ends, and drops the table only if none came", async () => {
    const { backends, vip, frame, backend, logs } = await setUp(["a"]);
    const balancer = new VipBalancer({ log: logs.log, tableGraceMs: 50 });
    cleanups.push(() => balancer.stop());
    await balancer.update(frame(backends.map((b) => backend(b))));
    // The master sent its table right after the registration: nothing is dropped.
    balancer.registered();
    await balancer.update(frame(backends.map((b) => backend(b))));
    await Bun.sleep(100);
    expect(await reach(vip.ip, vip.port)).toBe("a");
    // A registration with no table following: the cluster has no VIPs any more.
    balancer.registered();
    expect(await reach(vip.ip, vip.port)).toBe("a");
    await Bun.sleep(100);
    expect(balancer.status()).toEqual([]);
    await expect(connect(vip.ip, vip.port)).rejects.toThrow();
    expect(logs.events("vip_table_dropped")).toHaveLength(1);
  });

  it("binds nothing for a range outside the operator's blocks, nor for one holding this machine's own address", async () => {
    const logs = collectLog();
    const vip = vipAddress();
    const guard = { allowed: ["127.11.0.0/16", "11.0.0.0/8"], hostAddresses: () => ["10.1.2.3", "11.9.0.5"] };
    const balancer = new VipBalancer({ log: logs.log, ranges: guard });
    cleanups.push(() => balancer.stop());
    const table = (range: string, ip: string) => ({ type: "vips" as const, range, vips: [{ name: "x", ip, port: vip.port, backends: [] }] });
    // A member's routed block (the machine's LAN): not inside any allowed block.
    await balancer.update(table("10.0.0.0/8", "10.0.0.9"));
    // Inside an allowed block, but holding one of the machine's own addresses.
    await balancer.update(table("11.9.0.0/16", "11.9.0.9"));
    expect(logs.events("vip_range_refused").map((e) => e.why)).toEqual([
      "outside the blocks this agent allows (--vip-ranges 127.11.0.0/16,11.0.0.0/8)",
      "it holds 11.9.0.5, an address of this machine: its traffic would go to tasks",
    ]);
    expect(balancer.status()).toEqual([]);
    // An allowed range is taken.
    await balancer.update(table(RANGE, vip.ip));
    expect(balancer.status()).toEqual([expect.objectContaining({ ip: vip.ip, port: vip.port })]);
  });

  it("binds nothing for a range a root agent must not use, nor for an address outside the range", async () => {
    const { backends, balancer, vip, frame, backend, logs } = await setUp(["a"]);
    const list = backends.map((b) => backend(b));
    await balancer.update({ ...frame(list), range: "127.0.0.0/8" });
    expect(logs.events("vip_range_refused")).toHaveLength(1);
    await balancer.update({ ...frame(list), range: "127.12.0.0/16" });
    expect(logs.events("vip_address_refused")).toEqual([expect.objectContaining({ address: vip.ip, range: "127.12.0.0/16" })]);
    expect(balancer.status()).toEqual([]);
    await expect(connect(vip.ip, vip.port)).rejects.toThrow();
  });
});

describe("VipAddresses", () => {
  it("needs nothing for loopback, puts other addresses on the dcx-vip dummy link as root, and takes them away", async () => {
    const calls: string[] = [];
    const ip: IpCommand = async (args) => {
      calls.push(args.join(" "));
      return { code: 0, stderr: "" };
    };
    const addresses = new VipAddresses({ log: collectLog().log, privileged: true, ip });
    expect(await addresses.ensure("127.11.0.5")).toBe(true);
    expect(calls).toEqual([]);
    expect(await addresses.ensure("11.0.0.5")).toBe(true);
    expect(await addresses.ensure("11.0.0.6")).toBe(true);
    await addresses.releaseAll();
    expect(calls).toEqual([
      `link add ${VIP_LINK} type dummy`,
      `link set ${VIP_LINK} up`,
      `addr add 11.0.0.5/32 dev ${VIP_LINK}`,
      `addr add 11.0.0.6/32 dev ${VIP_LINK}`,
      `addr del 11.0.0.5/32 dev ${VIP_LINK}`,
      `addr del 11.0.0.6/32 dev ${VIP_LINK}`,
    ]);
  });

  it("without privileges, says once that non-loopback VIPs are off and runs nothing", async () => {
    const logs = collectLog();
    const addresses = new VipAddresses({ log: logs.log, privileged: false, ip: () => Promise.reject(new Error("must not run")) });
    expect(await addresses.ensure("11.0.0.5")).toBe(false);
    expect(await addresses.ensure("11.0.0.6")).toBe(false);
    expect(await addresses.ensure("127.11.0.1")).toBe(true);
    expect(logs.events("vip_addresses_unavailable")).toEqual([expect.objectContaining({ level: "error", why: expect.stringMatching(/not root/) })]);
  });

  it("carries on without the address when ip fails, and an existing address counts as added", async () => {
    const logs = collectLog();
    const ip: IpCommand = async (args) =>
      args[0] === "addr" && args[2] === "11.0.0.7/32"
        ? { code: 2, stderr: "RTNETLINK answers: File exists" }
        : args[0] === "addr"
          ? { code: 2, stderr: "RTNETLINK answers: Operation not permitted" }
          : { code: 0, stderr: "" };
    const addresses = new VipAddresses({ log: logs.log, privileged: true, ip });
    expect(await addresses.ensure("11.0.0.7")).toBe(true);
    expect(await addresses.ensure("11.0.0.8")).toBe(false);
    expect(logs.events("vip_addresses_unavailable")[0]?.why).toMatch(/Operation not permitted/);
  });
});
