import { plainTextRefusal } from "../protocol/index.ts";
import { type Config, configPath, readConfig } from "./config.ts";
import { CliError, errorText } from "./errors.ts";

/** How long one API call may take before the CLI gives up on it. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The control plane's error body: `{message, details: [{path, errors}]}` (Marathon style for 422). */
interface ErrorBody {
  message?: unknown;
  details?: unknown;
  deployments?: unknown;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
}

/** A small client of the DCX HTTP API: JSON in and out, Bearer token, server errors as CliErrors. */
export class Api {
  constructor(
    readonly url: string,
    readonly token?: string,
  ) {}

  /** Sends one request; resolves with the parsed JSON body (undefined for an empty one), or throws a CliError with the server's message. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new CliError(`cannot reach ${this.url}: ${errorText(error)}`);
    }
    const text = await res.text();
    if (!res.ok) throw responseError(res.status, text);
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${url.pathname}: the server answered ${res.status} with a body that is not JSON`);
    }
  }

  get<T>(path: string, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  /**
   * Opens a body to read as it arrives (a log, an event stream, a download); the error statuses throw as
   * `request` does. `timeoutMs: 0` waits as long as the stream lasts.
   */
  async open(path: string, query: RequestOptions["query"] = {}, accept = "*/*", timeoutMs = REQUEST_TIMEOUT_MS, method = "GET"): Promise<Response> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: accept };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, signal: timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined });
    } catch (error) {
      throw new CliError(`cannot reach ${this.url}: ${errorText(error)}`);
    }
    if (!res.ok) throw responseError(res.status, await res.text());
    return res;
  }
}

/** An error status from the API, reported with the server's message. */
export class HttpError extends CliError {
  constructor(
    readonly status: number,
    message: string,
    details: readonly string[],
  ) {
    super(`${message} (HTTP ${status})`, details);
    this.name = "HttpError";
  }
}

/** The server's message and, for a 422, each field path with its errors, as one error. */
export function responseError(status: number, text: string): HttpError {
  let body: ErrorBody | undefined;
  try {
    body = JSON.parse(text) as ErrorBody;
  } catch {
    body = undefined;
  }
  const message = typeof body?.message === "string" ? body.message : text.trim().slice(0, 200) || "no message";
  const lines: string[] = [];
  if (Array.isArray(body?.details)) {
    for (const d of body.details as { path?: unknown; errors?: unknown }[]) {
      const errors = Array.isArray(d?.errors) ? d.errors.map(String).join("; ") : JSON.stringify(d);
      lines.push(typeof d?.path === "string" ? `${d.path}: ${errors}` : errors);
    }
  }
  // Cosmos's errors (`/package/*`) carry `data.errors`: a schema mismatch's JSON paths, or a repository's.
  const data = (body as { data?: { errors?: unknown } } | undefined)?.data;
  if (Array.isArray(data?.errors)) {
    for (const e of data.errors as { path?: unknown; message?: unknown; errors?: unknown }[]) {
      const text = typeof e?.message === "string" ? e.message : Array.isArray(e?.errors) ? e.errors.map(String).join("; ") : JSON.stringify(e);
      lines.push(typeof e?.path === "string" ? `${e.path}: ${text}` : text);
    }
  }
  // Marathon's 409 names the deployments holding the app and says `?force=true`; say the flag.
  if (status === 409 && Array.isArray(body?.deployments)) lines.push("pass --force to override the deployment in progress");
  return new HttpError(status, message, lines);
}

/** Where a logged-in command talks to: the API client and the current cluster. */
export interface Session {
  api: Api;
  config: Config;
  configPath: string;
}

/** The stored credentials, or an error telling how to get some. */
export function session(env: Readonly<Record<string, string | undefined>> = process.env): Session {
  const path = configPath(env);
  const config = readConfig(path);
  if (!config) throw new CliError(`not logged in (no ${path}): run 'dcx login --url URL --email EMAIL' or 'dcx signup'`);
  // A config written by hand, or by an older dcx, may hold a plain-text URL nobody accepted.
  const plainText = config.insecure === true ? undefined : plainTextRefusal(new URL(config.url));
  if (plainText !== undefined) throw new CliError(`${path}: ${plainText} (log in again with --insecure)`);
  return { api: new Api(config.url, config.token), config, configPath: path };
}

/** A session with a current cluster, and a helper for the paths under `/c/:cluster`. */
export function clusterSession(env?: Readonly<Record<string, string | undefined>>): Session & { cluster: string; path: (p: string) => string } {
  const s = session(env);
  const cluster = s.config.cluster;
  if (!cluster) throw new CliError("no current cluster: run 'dcx cluster list' and 'dcx cluster use ID'");
  return { ...s, cluster, path: (p) => `/c/${encodeURIComponent(cluster)}${p}` };
}
