import { connect as connectTcp } from "node:net";
import type { Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { HttpPath } from "../../protocol/checks.ts";

/**
 * A minimal HTTP/1.1 GET over a raw socket, for health and readiness probes. `fetch` is not
 * used because it never shows a final 1xx status (Bun drops the connection), which Marathon's
 * `ignoreHttp1xx` is about; here the first status line the task sends is the answer. HTTPS
 * does not verify the certificate, as Mesos's checks (curl -k) do not: the task is local and
 * its certificate is rarely issued for 127.0.0.1.
 */

export interface HttpTarget {
  tls: boolean;
  host: string;
  port: number;
  path: string;
}

export interface HttpAnswer {
  status: number;
  /** The status line's reason phrase, e.g. "Internal Server Error". */
  reason: string;
  contentType: string;
  /** Only when the body was asked for; cut at the cap. */
  body: string;
}

/** A probe that got no answer: refused, reset, timed out, garbled. */
export class ProbeError extends Error {
  override name = "ProbeError";
}

export interface GetOptions {
  timeoutMs: number;
  /** Read the body (up to `maxBodyBytes`) rather than stop at the status line and headers. */
  body?: boolean;
  maxBodyBytes?: number;
}

const HEAD_LIMIT = 64 * 1024;

/** Opens a TCP (or TLS) connection to `target`; resolves once it is up. The caller destroys it. */
export function openSocket(target: Pick<HttpTarget, "tls" | "host" | "port">, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = target.tls
      ? connectTls({ host: target.host, port: target.port, rejectUnauthorized: false })
      : connectTcp({ host: target.host, port: target.port });
    const timer = setTimeout(() => fail(new ProbeError(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error instanceof ProbeError ? error : new ProbeError(socketErrorCause(error)));
    };
    socket.once("error", fail);
    socket.once(target.tls ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.off("error", fail);
      resolve(socket);
    });
  });
}

/** GETs `target.path`; rejects with a ProbeError when no complete status line and headers arrive in time. */
export async function httpGet(target: HttpTarget, options: GetOptions): Promise<HttpAnswer> {
  // The protocol schema refuses such a path already; checked again where it meets the wire, since
  // a CR or LF here would let the path write headers or a second request to the task's port.
  if (!HttpPath.safeParse(target.path).success) throw new ProbeError("the path holds a space or a control character; refused");
  const started = performance.now();
  const socket = await openSocket(target, options.timeoutMs);
  const left = Math.max(1, options.timeoutMs - (performance.now() - started));
  return new Promise<HttpAnswer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let headSeen = false;
    // A body still arriving at the timeout is cut there: the status is the answer that counts.
    const timer = setTimeout(() => (headSeen ? tryParse(true) : finish(new ProbeError(`no answer within ${options.timeoutMs} ms`))), left);
    const finish = (outcome: HttpAnswer | Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome instanceof ProbeError ? outcome : new ProbeError(socketErrorCause(outcome)));
      else resolve(outcome);
    };
    const tryParse = (ended: boolean) => {
      const data = Buffer.concat(chunks);
      const headEnd = data.indexOf("\r\n\r\n");
      if (headEnd < 0) {
        if (ended || size > HEAD_LIMIT) finish(new ProbeError(ended ? "the connection closed before a complete HTTP answer" : "HTTP headers too large"));
        return;
      }
      const head = parseHead(data.subarray(0, headEnd).toString("latin1"));
      if (head instanceof ProbeError) return finish(head);
      headSeen = true;
      const cap = options.maxBodyBytes ?? 0;
      const raw = data.subarray(headEnd + 4);
      if (options.body && !ended && raw.length <= cap && !complete(raw, head)) return;
      const body = options.body ? decodeBody(raw, head.chunked).subarray(0, cap).toString("utf8") : "";
      finish({ status: head.status, reason: head.reason, contentType: head.contentType, body });
    };
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      tryParse(false);
    });
    socket.once("end", () => tryParse(true));
    socket.once("error", (error) => finish(error));
    socket.write(`GET ${target.path} HTTP/1.1\r\nHost: ${hostHeader(target)}\r\nUser-Agent: dcx-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
  });
}

function hostHeader(target: HttpTarget): string {
  return `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
}

interface Head {
  status: number;
  reason: string;
  contentType: string;
  chunked: boolean;
  contentLength?: number;
}

/** Whether the whole body is in, for servers that keep the connection open despite `Connection: close`. */
function complete(raw: Buffer, head: Head): boolean {
  if (head.chunked) return raw.includes("\r\n0\r\n\r\n") || raw.subarray(0, 5).toString("latin1") === "0\r\n\r\n";
  return head.contentLength !== undefined && raw.length >= head.contentLength;
}

function parseHead(text: string): Head | ProbeError {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const match = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(statusLine);
  if (match === null) return new ProbeError(`not an HTTP answer: '${statusLine.slice(0, 64)}'`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return {
    status: Number(match[1]),
    reason: match[2] ?? "",
    contentType: headers.get("content-type") ?? "",
    chunked: /\bchunked\b/i.test(headers.get("transfer-encoding") ?? ""),
    ...(/^\d+$/.test(headers.get("content-length") ?? "") ? { contentLength: Number(headers.get("content-length")) } : {}),
  };
}

/** The body's bytes; a chunked body is decoded as far as it arrived (it may be cut at the cap). */
function decodeBody(raw: Buffer, chunked: boolean): Buffer {
  if (!chunked) return raw;
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** A socket error as a probe's failure cause: "connection refused", with the code for searching. */
function socketErrorCause(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const plain: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    EHOSTUNREACH: "host unreachable",
    ETIMEDOUT: "timed out",
  };
  if (code !== undefined && plain[code] !== undefined) return `${plain[code]} (${code})`;
  return error.message;
}
