import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { TaskHealthCheck, TaskReadinessCheck } from "../../protocol/index.ts";
import { testScope } from "../test-support/scope.ts";
import { classifyCommand, classifyHttpStatus, probeHealth, probeReadiness } from "./probes.ts";
import { healthReport } from "./task-checks.ts";
import { requirement } from "../test-support/requirement.ts";

const scope = testScope("dcx-probes");
const noCommands = { runCommand: () => Promise.reject(new Error("no commands here")) };

/** A raw TCP server that answers every connection with `reply` (or nothing), closed after the test. */
async function rawServer(reply: string | ((socket: Socket) => void) | undefined): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.once("data", () => {
      if (typeof reply === "string") socket.end(reply);
      else reply?.(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  scope.defer(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on: bound, then freed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const http = (port: number, extra: Record<string, unknown> = {}) =>
  TaskHealthCheck.parse({ protocol: "HTTP", port, path: "/health", intervalMs: 1000, timeoutMs: 500, ...extra });
const answer = (status: string, body = "", headers = "") => `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\n${headers}Connection: close\r\n\r\n${body}`;

describe("HTTP status rule (Marathon): 200-399 pass, 1xx discarded only with ignoreHttp1xx", () => {
  test.each([
    [200, false, "pass"],
    [302, false, "pass"],
    [399, false, "pass"],
    [400, false, "fail"],
    [500, true, "fail"],
    [199, false, "fail"],
    [100, false, "fail"],
    [101, true, "ignored"],
    [199, true, "ignored"],
  ])("%i with ignoreHttp1xx=%p: %s", (status, ignore, kind) => {
    expect(classifyHttpStatus(status, "", ignore).kind).toBe(kind as "pass" | "fail" | "ignored");
  });

  test("a failure's cause names the status and its reason phrase", () => {
    expect(classifyHttpStatus(503, "Service Unavailable", false)).toEqual({ kind: "fail", cause: "HTTP 503 Service Unavailable" });
  });
});

describe("command rule: exit 0 passes", () => {
  test("exit codes, output and timeouts", () => {
    expect(classifyCommand({ code: 0, timedOut: false, output: "" }, 1000)).toEqual({ kind: "pass" });
    expect(classifyCommand({ code: 3, timedOut: false, output: "no pid file" }, 1000)).toEqual({
      kind: "fail",
      cause: "command exited with code 3: no pid file",
    });
    expect(classifyCommand({ code: null, timedOut: true, output: "" }, 1000)).toEqual({ kind: "fail", cause: "command timed out after 1000 ms" });
  });
});

describe("what a health check reports", () => {
  test("every failure, but a pass only when the check was not passing already; 1xx under ignoreHttp1xx nothing", () => {
    const pass = { kind: "pass" } as const;
    const fail = { kind: "fail", cause: "HTTP 500" } as const;
    expect(healthReport(undefined, pass)).toEqual({ healthy: true });
    expect(healthReport(true, pass)).toBeUndefined();
    expect(healthReport(false, pass)).toEqual({ healthy: true });
    expect(healthReport(true, fail)).toEqual({ healthy: false, cause: "HTTP 500" });
    expect(healthReport(false, fail)).toEqual({ healthy: false, cause: "HTTP 500" });
    expect(healthReport(true, { kind: "ignored", cause: "HTTP 102" })).toBeUndefined();
  });
});

describe("probes against real sockets", () => {
  test("HTTP: the first status line decides, 1xx included", async () => {
    expect(await probeHealth(http(await rawServer(answer("204 No Content"))), noCommands)).toEqual({ kind: "pass" });
    expect(await probeHealth(http(await rawServer(answer("500 Internal Server Error"))), noCommands)).toEqual({
      kind: "fail",
      cause: "HTTP 500 Internal Server Error",
    });
    const informational = await rawServer(answer("199 Still Thinking"));
    expect((await probeHealth(http(informational), noCommands)).kind).toBe("fail");
    expect((await probeHealth(http(informational, { ignoreHttp1xx: true }), noCommands)).kind).toBe("ignored");
  });

  test("HTTP: refused, silent and garbled answers fail with their cause", async () => {
    expect(await probeHealth(http(await closedPort()), noCommands)).toMatchObject({
      kind: "fail",
      cause: expect.stringMatching(/GET \/health on port \d+: connection refused/),
    });
    expect(await probeHealth(http(await rawServer(undefined)), noCommands)).toMatchObject({
      kind: "fail",
      cause: expect.stringMatching(/no answer within 500 ms/),
    });
    expect(await probeHealth(http(await rawServer("SSH-2.0-OpenSSH\r\n\r\n")), noCommands)).toMatchObject({
      kind: "fail",
      cause: expect.stringMatching(/not an HTTP answer/),
    });
  });

  test("a path with CR, LF or a space is refused by the schema, and the prober sends nothing for it", async () => {
    for (const path of ["/a\r\nX-Injected: 1", "/a\nb", "/a b", "/a\u0000"]) {
      expect(TaskHealthCheck.safeParse({ protocol: "HTTP", port: 80, path, intervalMs: 1000, timeoutMs: 500 }).success).toBe(false);
    }
    let requests = 0;
    const port = await rawServer((socket) => {
      requests += 1;
      socket.end(answer("200 OK"));
    });
    const smuggled = { ...http(port), path: "/ HTTP/1.1\r\nHost: x\r\n\r\nGET /admin" };
    const result = await probeHealth(smuggled, noCommands);
    expect(result).toMatchObject({ kind: "fail", cause: expect.stringContaining("control character; refused") });
    expect(requests).toBe(0);
  });

  const openssl = requirement("openssl", spawnSync("openssl", ["version"]).status === 0 ? undefined : "openssl is not installed (apt-get install openssl)");
  test.skipIf(openssl.skip)("HTTPS: a self-signed certificate is accepted, as Mesos's checks do", async () => {
    openssl.require();
    const dir = scope.tempDir();
    const made = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
    expect(made.status).toBe(0);
    const server = createTlsServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (socket) => {
      socket.on("error", () => undefined);
      socket.once("data", () => socket.end(answer("200 OK")));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    scope.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    expect(await probeHealth(http(port, { protocol: "HTTPS" }), noCommands)).toEqual({ kind: "pass" });
    expect((await probeHealth(http(port), noCommands)).kind).toBe("fail");
  });

  test("TCP: passes when a connection opens, fails when refused", async () => {
    const tcp = (port: number) => TaskHealthCheck.parse({ protocol: "TCP", port, intervalMs: 1000, timeoutMs: 500 });
    expect(await probeHealth(tcp(await rawServer(undefined)), noCommands)).toEqual({ kind: "pass" });
    expect(await probeHealth(tcp(await closedPort()), noCommands)).toMatchObject({
      kind: "fail",
      cause: expect.stringMatching(/^TCP 127\.0\.0\.1:\d+: connection refused/),
    });
  });

  test("COMMAND: runs through the driver; a command that cannot run fails", async () => {
    const check = TaskHealthCheck.parse({ protocol: "COMMAND", command: "test -f ready", intervalMs: 1000, timeoutMs: 500 });
    expect(await probeHealth(check, { runCommand: async () => ({ code: 1, timedOut: false, output: "" }) })).toEqual({
      kind: "fail",
      cause: "command exited with code 1",
    });
    expect(await probeHealth(check, noCommands)).toEqual({ kind: "fail", cause: "command could not run: no commands here" });
  });

  test("readiness: ready on the listed codes; the last response kept, chunked bodies decoded", async () => {
    const readiness = (port: number, extra: Record<string, unknown> = {}) =>
      TaskReadinessCheck.parse({
        name: "ready",
        protocol: "HTTP",
        port,
        path: "/ready",
        intervalMs: 1000,
        timeoutMs: 500,
        httpStatusCodesForReady: [200, 204],
        ...extra,
      });
    const chunked = answer("503 Service Unavailable", "7\r\nwarming\r\n3\r\n up\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n");
    expect(await probeReadiness(readiness(await rawServer(chunked), { preserveLastResponse: true }))).toEqual({
      result: { name: "ready", ready: false, lastResponse: { status: 503, contentType: "text/plain", body: "warming up" } },
      cause: "HTTP 503 Service Unavailable",
    });
    expect(await probeReadiness(readiness(await rawServer(answer("204 No Content"))))).toEqual({ result: { name: "ready", ready: true } });
    expect((await probeReadiness(readiness(await closedPort()))).cause).toMatch(/connection refused/);
  });

  test("readiness: a server that keeps the connection open is read to its Content-Length, or cut at the timeout", async () => {
    const keep = (body: string, length: number) => (socket: Socket) =>
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\n\r\n${body}`);
    const check = (port: number, timeoutMs: number) =>
      TaskReadinessCheck.parse({
        name: "r",
        protocol: "HTTP",
        port,
        path: "/",
        intervalMs: 60_000,
        timeoutMs,
        httpStatusCodesForReady: [200],
        preserveLastResponse: true,
      });
    // With a minute to wait, only reading to the Content-Length ends this within the test's 5 s.
    expect((await probeReadiness(check(await rawServer(keep("done", 4)), 60_000))).result).toMatchObject({ ready: true, lastResponse: { body: "done" } });
    expect((await probeReadiness(check(await rawServer(keep("part", 100)), 300))).result).toMatchObject({
      ready: true,
      lastResponse: { status: 200, body: "part" },
    });
  });
});
