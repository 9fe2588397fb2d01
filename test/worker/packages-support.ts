import { expect, vi } from "vitest";
import { type Account, call } from "./helpers.ts";

/** Cosmos's media type for a kind and version. */
export const mt = (kind: string, v = 1) => `application/vnd.dcos.${kind}+json;charset=utf-8;version=v${v}`;
export const ERROR_TYPE = "application/vnd.dcos.package.error+json;charset=utf-8;version=v1";

/** A Cosmos call as the DC/OS CLI makes it: vnd request and Accept types (overridable). */
export function cosmos(a: Account, endpoint: string, body: unknown, opts: { accept?: string; contentType?: string; raw?: string } = {}): Promise<Response> {
  const kind = `package.${endpoint.replace("/", ".")}`;
  return call(`/c/${a.cluster.id}/package/${endpoint}`, {
    method: "POST",
    token: a.token,
    headers: { "Content-Type": opts.contentType ?? mt(`${kind}-request`), Accept: opts.accept ?? mt(`${kind}-response`) },
    body: opts.raw ?? JSON.stringify(body),
  });
}

/** Asserts a Cosmos error of this type and status, under the error media type; returns its body. */
export async function expectCosmosError(res: Response, type: string, status = 400): Promise<{ type: string; message: string; data?: Record<string, unknown> }> {
  const body = (await res.json()) as { type: string; message: string; data?: Record<string, unknown> };
  expect({ status: res.status, type: body.type }).toEqual({ status, type });
  expect(res.headers.get("Content-Type")).toBe(ERROR_TYPE);
  expect(body.message.length).toBeGreaterThan(0);
  return body;
}

/** What the fake repository server answers for one URL. */
export type Served = {
  status?: number;
  body?: string | (() => ReadableStream<Uint8Array>);
  contentType?: string;
  etag?: string;
  hang?: boolean;
  headers?: Record<string, string>;
};

/**
 * Stands in for repository servers outside the machine: the Worker's `fetch` of these URLs is
 * answered from `routes` (the end-to-end test serves a real one). Honours If-None-Match.
 */
export function fakeRepositories(routes: Record<string, Served>) {
  const requests: { url: string; headers: Headers }[] = [];
  const real = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const served = routes[url];
    if (!served) return real(input, init);
    const headers = new Headers(init?.headers);
    requests.push({ url, headers });
    if (served.hang) {
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
    }
    if (served.etag && headers.get("If-None-Match") === served.etag) return new Response(null, { status: 304 });
    const h: Record<string, string> = {
      "Content-Type": served.contentType ?? "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4",
      ...served.headers,
    };
    if (served.etag) h.ETag = served.etag;
    return new Response(typeof served.body === "function" ? served.body() : (served.body ?? ""), { status: served.status ?? 200, headers: h });
  });
  return { requests, restore: () => spy.mockRestore() };
}
