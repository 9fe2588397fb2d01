import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { PASSWORD, randomAddress, registerFrame, TestSocket, uniqueEmail } from "./helpers.ts";

export const ORIGIN = "http://dcx.test";

/**
 * A browser stand-in for the UI's pages: keeps the cookies the Worker sets, sends forms as a
 * browser does (urlencoded, with `Origin`), and reads the CSRF token from the last page.
 */
export class Browser {
  readonly cookies = new Map<string, string>();
  csrf = "";
  clusterId = "";

  /** The client address this browser's requests come from (CF-Connecting-IP), its own per browser. */
  readonly address = randomAddress();

  constructor(readonly origin = ORIGIN) {}

  get session(): string | undefined {
    return this.cookies.get("dcx_session") ?? this.cookies.get("__Host-dcx_session");
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", this.address);
    if (this.cookies.size > 0) headers.set("Cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await exports.default.fetch(new Request(`${this.origin}${path}`, { ...init, headers, redirect: "manual" }));
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      if (/Max-Age=0|expires=Thu, 01 Jan 1970/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** GETs a page; remembers its CSRF token. */
  async page(path: string): Promise<{ status: number; html: string; res: Response }> {
    const res = await this.request(path);
    const html = await res.text();
    const token = /name="csrf-token" content="([^"]+)"/.exec(html)?.[1];
    if (token) this.csrf = token;
    return { status: res.status, html, res };
  }

  /** POSTs a form as a page of `origin` would, with the session's CSRF token unless given. */
  async form(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const body = new URLSearchParams({ _csrf: this.csrf, ...fields });
    const all = new Headers();
    // An empty value leaves a header out (a request without Origin).
    for (const [k, v] of Object.entries({ "Content-Type": "application/x-www-form-urlencoded", Origin: this.origin, ...headers })) if (v !== "") all.set(k, v);
    return this.request(path, { method: "POST", headers: all, body });
  }

  /** Signs up through the form and lands on the new cluster's pages. */
  async signUp(email = uniqueEmail("ui")): Promise<this> {
    const res = await this.form("/signup", { email, password: PASSWORD });
    expect(res.status).toBe(303);
    const location = res.headers.get("Location") ?? "";
    this.clusterId = /^\/ui\/([a-z0-9]+)\//.exec(location)?.[1] ?? "";
    expect(this.clusterId).not.toBe("");
    await this.page(location);
    return this;
  }

  /** The text of a page with tags removed, for asserting what a reader sees. */
  static text(html: string): string {
    return html
      .replace(/<[^>]+>/g, " ")
      .replace(/&#39;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, "&")
      .replace(/&gt;/g, ">")
      .replace(/&lt;/g, "<")
      .replace(/\s+/g, " ");
  }
}

/** Every URL a page makes the browser load or go to (src, href, action): none may leave the origin. */
export function linkedUrls(html: string): string[] {
  return [...html.matchAll(/\s(?:src|href|action)="([^"]*)"/g)].map((m) => m[1] ?? "");
}

/** A signed-up browser with one agent joined through a token made on the Tokens page. */
export async function withAgent() {
  const browser = await new Browser().signUp();
  const created = await browser.form(`/ui/${browser.clusterId}/tokens`, { op: "create-agent-token", description: "rack 1", expiresInSeconds: "3600" });
  const html = await created.text();
  const command = /<pre id="agent-command"[^>]*><code>([^<]+)<\/code>/.exec(html)?.[1] ?? "";
  const token = /--token (dcxj_\S+)/.exec(command)?.[1] ?? "";
  const socket = await TestSocket.open(browser.clusterId, token);
  socket.send(registerFrame({ hostname: "ui-node-1", ip: "10.1.2.3", attributes: { rack: "r1" } }));
  const registered = await socket.next<{ type: string; agentId: string; credential: string }>();
  expect(registered.type).toBe("registered");
  return { browser, socket, agentId: registered.agentId, credential: registered.credential, command };
}

/** Deploys through the form; the agent gets the launch and reports the task RUNNING. */
export async function deployRunning(browser: Browser, socket: TestSocket, id = "/web") {
  const json = JSON.stringify({ id, cmd: "sleep 1000", cpus: 0.1, mem: 16, portDefinitions: [{ port: 0 }] });
  const res = await browser.form(`/ui/${browser.clusterId}/deploy`, { json });
  expect(res.status).toBe(303);
  let frame: { type?: string; tasks?: { taskId: string; ports: number[] }[] };
  do frame = await socket.next();
  while (frame.type !== "launch");
  const task = frame.tasks?.[0] as { taskId: string; ports: number[] };
  socket.send({ type: "status", updates: [{ updateId: `ui-${task.taskId}`, taskId: task.taskId, state: "TASK_RUNNING", timestamp: Date.now() }] });
  do frame = await socket.next();
  while (frame.type !== "ack");
  // The deployment is done once a round has seen the task running.
  for (let i = 0; i < 100; i++) {
    const deployments = (await (await browser.request(`/c/${browser.clusterId}/v2/deployments`)).json()) as unknown[];
    if (deployments.length === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { location: res.headers.get("Location") ?? "", task };
}
