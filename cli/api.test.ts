import { afterAll, describe, expect, test } from "bun:test";
import { Api, HttpError, responseError } from "./api.ts";
import { CliError } from "./errors.ts";

describe("responseError", () => {
  test("keeps the server's message and lists a 422's field paths with their errors", () => {
    const body = {
      message: "Object is not valid",
      details: [
        { path: "/cpus", errors: ["must be at least 0"] },
        { path: "/instances", errors: ["expected a number", "got a string"] },
      ],
    };
    const error = responseError(422, JSON.stringify(body));
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBe(422);
    expect(error.message).toBe("Object is not valid (HTTP 422)");
    expect(error.details).toEqual(["/cpus: must be at least 0", "/instances: expected a number; got a string"]);
  });

  test("turns Marathon's '?force=true' advice on a locked app into the CLI's flag", () => {
    const body = { message: "App is locked by one or more deployments. Override with the option '?force=true'.", deployments: [{ id: "d1" }] };
    expect(responseError(409, JSON.stringify(body)).details).toEqual(["pass --force to override the deployment in progress"]);
  });

  test("shows the start of a body that is not JSON", () => {
    expect(responseError(502, "<html>Bad gateway</html>").message).toBe("<html>Bad gateway</html> (HTTP 502)");
    expect(responseError(500, "").message).toBe("no message (HTTP 500)");
  });
});

describe("Api", () => {
  const seen: { auth: string | null; type: string | null; body: string; url: string }[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      seen.push({ auth: req.headers.get("Authorization"), type: req.headers.get("Content-Type"), body: await req.text(), url: req.url });
      const path = new URL(req.url).pathname;
      if (path === "/missing") return Response.json({ message: "App '/x' does not exist" }, { status: 404 });
      if (path === "/empty") return new Response(null, { status: 202 });
      return Response.json({ ok: true });
    },
  });
  afterAll(() => server.stop(true));
  const base = `http://127.0.0.1:${server.port}`;

  test("sends the token as a Bearer token and JSON bodies, drops undefined query values, and parses the answer", async () => {
    const api = new Api(base, "dcxu_t");
    expect(await api.request("POST", "/x", { body: { a: 1 }, query: { force: true, scale: undefined } })).toEqual({ ok: true });
    expect(seen.at(-1)).toEqual({ auth: "Bearer dcxu_t", type: "application/json", body: '{"a":1}', url: `${base}/x?force=true` });
    expect(await api.request("DELETE", "/empty")).toBeUndefined();
  });

  test("throws the server's message with the status", async () => {
    const error = await new Api(base).get("/missing").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).message).toBe("App '/x' does not exist (HTTP 404)");
    expect(seen.at(-1)?.auth).toBeNull();
  });

  test("says which control plane it cannot reach", async () => {
    const error = await new Api("http://127.0.0.1:1").get("/health").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toStartWith("cannot reach http://127.0.0.1:1: ");
  });
});
