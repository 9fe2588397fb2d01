import { describe, expect, it } from "vitest";
import { decodeProxyData, encodeProxyData, PROXY_CHUNK_BYTES, ProxyDataKind } from "../../protocol/index.ts";
import { rewriteLocation, upstreamPath } from "../../control/cluster/service-proxy/service-proxy.ts";

const call = { segments: ["shop", "web", "a", "b"], search: "?q=1", prefix: "/c/k1/service", host: "dcx.example" };

describe("the path a task sees", () => {
  it("drops /service/<name> (a name of several segments too), keeps the query, and makes an empty rest /", () => {
    expect(upstreamPath(call, { name: "shop/web", rewrite: true, basePath: "" })).toBe("/a/b?q=1");
    expect(upstreamPath({ ...call, segments: ["shop", "web", ""] }, { name: "shop/web", rewrite: true, basePath: "" })).toBe("/?q=1");
    expect(upstreamPath({ ...call, segments: ["web"], search: "" }, { name: "web", rewrite: true, basePath: "" })).toBe("/");
  });

  it("puts a framework's webui_url path first, and keeps the whole path for DCOS_SERVICE_REWRITE_REQUEST_URLS=false", () => {
    expect(upstreamPath(call, { name: "shop/web", rewrite: true, basePath: "ui/v2" })).toBe("/ui/v2/a/b?q=1");
    expect(upstreamPath(call, { name: "shop/web", rewrite: false, basePath: "" })).toBe("/c/k1/service/shop/web/a/b?q=1");
  });
});

describe("redirects the client follows", () => {
  const target = { name: "shop/web", rewrite: true };
  it("moves a redirect to the task's root under the prefix, from a path or an absolute URL on the client's host or loopback", () => {
    expect(rewriteLocation("/login?next=%2F", call, target)).toBe("/c/k1/service/shop/web/login?next=%2F");
    expect(rewriteLocation("http://dcx.example/x#y", call, target)).toBe("/c/k1/service/shop/web/x#y");
    expect(rewriteLocation("http://127.0.0.1:31005/", call, target)).toBe("/c/k1/service/shop/web/");
    expect(rewriteLocation("http://localhost/x", call, target)).toBe("/c/k1/service/shop/web/x");
  });

  it("leaves one already under the prefix, one elsewhere, a protocol-relative one, garbage, and every redirect of an app that sees its whole path", () => {
    expect(rewriteLocation("/c/k1/service/shop/web/ok", call, target)).toBe("/c/k1/service/shop/web/ok");
    expect(rewriteLocation("https://login.example/x", call, target)).toBe("https://login.example/x");
    expect(rewriteLocation("//evil.example/x", call, target)).toBe("//evil.example/x");
    expect(rewriteLocation("not a url", call, target)).toBe("not a url");
    expect(rewriteLocation("/login", call, { ...target, rewrite: false })).toBe("/login");
  });
});

describe("the proxy's binary frames", () => {
  it("round-trip kind, stream id, FIN and payload", () => {
    const payload = new Uint8Array([1, 2, 3]);
    expect(decodeProxyData(encodeProxyData(ProxyDataKind.WS_BINARY, 0xfffffffe, payload, false))).toEqual({
      kind: ProxyDataKind.WS_BINARY,
      sid: 0xfffffffe,
      fin: false,
      payload,
    });
    expect(decodeProxyData(encodeProxyData(ProxyDataKind.BODY, 7, new Uint8Array()))).toMatchObject({ kind: ProxyDataKind.BODY, sid: 7, fin: true });
  });

  it("refuse what is not one: too short, an unknown kind, stream 0, a payload over a chunk", () => {
    expect(decodeProxyData(new Uint8Array([1, 0, 0]))).toBeUndefined();
    expect(decodeProxyData(new Uint8Array([9, 0, 0, 0, 1]))).toBeUndefined();
    expect(decodeProxyData(new Uint8Array([1, 0, 0, 0, 0]))).toBeUndefined();
    expect(decodeProxyData(new Uint8Array(5 + PROXY_CHUNK_BYTES + 1).fill(1))).toBeUndefined();
  });
});
