import { describe, expect, it } from "vitest";
import { jsonLineMap, jsonSyntaxProblem, lineOf } from "../../control/ui/json-lines.ts";

const APP = `{
  "id": "/web",
  "container": {
    "type": "DOCKER",
    "docker": { "image": "busybox" },
    "portMappings": [
      { "containerPort": 80 },
      { "containerPort": 443,
        "name": "tls" }
    ]
  },
  "env": { "A/B": "x", "quote\\"d": "y" }
}`;

describe("jsonLineMap", () => {
  it("places members, nested members and array items on their lines", () => {
    const lines = jsonLineMap(APP);
    expect(lines.get("/")).toBe(1);
    expect(lines.get("/id")).toBe(2);
    expect(lines.get("/container")).toBe(3);
    expect(lines.get("/container/docker/image")).toBe(5);
    expect(lines.get("/container/portMappings/0")).toBe(7);
    expect(lines.get("/container/portMappings/1/containerPort")).toBe(8);
    expect(lines.get("/container/portMappings/1/name")).toBe(9);
    expect(lines.get('/env/quote"d')).toBe(12);
  });

  it("keeps the lines found before a syntax error", () => {
    const lines = jsonLineMap('{\n  "id": "/web",\n  "cpus": 0.1\n  "mem": 16\n}');
    expect(lines.get("/id")).toBe(2);
    expect(lines.get("/cpus")).toBe(3);
    expect(lines.has("/mem")).toBe(false);
  });
});

describe("lineOf", () => {
  const lines = jsonLineMap(APP);
  it("falls back to the nearest ancestor for a field that is missing", () => {
    expect(lineOf(lines, "/container/docker/network")).toBe(5);
    expect(lineOf(lines, "/cmd")).toBe(1);
    expect(lineOf(lines, "/")).toBe(1);
    expect(lineOf(lines, "")).toBe(1);
    expect(lineOf(new Map(), "/x/y")).toBe(1);
  });
});

describe("jsonSyntaxProblem", () => {
  it.each([
    ['{"a": 1}', undefined],
    ['{\n  "a": 1\n  "b": 2\n}', { line: 3, column: 3, message: "expected ',' or '}' (a missing comma?)" }],
    ['{\n  "a": [1, 2,]\n}', { line: 2, column: 14, message: "unexpected character ']'" }],
    ["{\n  a: 1\n}", { line: 2, column: 3, message: "expected a quoted member name" }],
    ['{"a": "open', { line: 1, column: 7, message: "a string is not closed" }],
    ['{"a": 1} x', { line: 1, column: 10, message: "unexpected text after the JSON value" }],
    ["", { line: 1, column: 1, message: "the JSON ends too early" }],
    ['{"a": 01}', { line: 1, column: 8, message: "expected ',' or '}' (a missing comma?)" }],
    ['{"a": "\\q"}', { line: 1, column: 7, message: "invalid escape in a string" }],
  ])("%j", (text, expected) => {
    expect(jsonSyntaxProblem(text)).toEqual(expected);
  });

  it("agrees with JSON.parse on what is JSON", () => {
    for (const text of ["[]", "null", '"x"', "-1.5e3", '{"a":{"b":[true,false,null,{}]}}', " \n[1]\n "]) {
      expect(jsonSyntaxProblem(text), text).toBeUndefined();
      expect(() => JSON.parse(text)).not.toThrow();
    }
  });

  it("refuses absurd nesting instead of overflowing the stack", () => {
    expect(jsonSyntaxProblem("[".repeat(5000) + "]".repeat(5000))?.message).toBe("nested too deeply");
  });
});
