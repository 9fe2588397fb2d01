import { describe, expect, it } from "vitest";
import { RecordStream } from "../../control/api/record-stream.ts";
import { asciiJson, recordIo, recordIoBytes } from "../../control/cluster/frameworks/external/stream.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../control/http/middleware.ts";
import { recordIoRecords } from "../support/recordio.ts";

/** Every record a stream holds once it is closed. */
async function records(stream: RecordStream): Promise<string[]> {
  const out: string[] = [];
  const reader = stream.readable.getReader();
  for await (const r of recordIoRecords(reader)) out.push(r);
  return out;
}

describe("RecordIO records of the scheduler stream", () => {
  it("keeps ASCII JSON as it is and escapes everything past it, DEL included, so a length in bytes is one in characters", () => {
    const ascii = JSON.stringify({ type: "UPDATE", message: "plain" });
    expect(asciiJson(ascii)).toBe(ascii);
    const mixed = JSON.stringify({ message: "café \u007f ✓ 😀" });
    const escaped = asciiJson(mixed);
    expect(escaped).toBe('{"message":"caf\\u00e9 \\u007f \\u2713 \\ud83d\\ude00"}');
    expect(JSON.parse(escaped)).toEqual(JSON.parse(mixed));
    expect(recordIo(mixed)).toBe(`${escaped.length}\n${escaped}`);
    expect(new TextEncoder().encode(escaped).length).toBe(escaped.length);
  });

  it("frames an ASCII batch as it stands, and a batch holding anything else with every record kept ASCII", () => {
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    const plain = ['{"type":"UPDATE","n":1}', '{"type":"HEARTBEAT"}'];
    expect(decode(recordIoBytes(plain))).toBe('23\n{"type":"UPDATE","n":1}20\n{"type":"HEARTBEAT"}');
    const mixed = ['{"type":"UPDATE","n":1}', JSON.stringify({ message: "café" })];
    const framed = recordIoBytes(mixed);
    expect(decode(framed)).toBe(`23\n{"type":"UPDATE","n":1}${recordIo(mixed[1] ?? "")}`);
    expect(framed.every((byte) => byte < 0x80)).toBe(true);
  });

  it("writes a message's records as the object framed them, each made ASCII, in order with those pushed one by one", async () => {
    const stream = new RecordStream(() => {});
    const events = [{ type: "UPDATE", n: 1 }, { type: "UPDATE", message: "naïve ✓\nline" }, { type: "HEARTBEAT" }];
    stream.pushRecords(recordIoBytes(events.map((e) => JSON.stringify(e))));
    stream.push(JSON.stringify({ type: "ERROR", message: "ü" }));
    const read = records(stream);
    await new Promise((r) => setTimeout(r, 10));
    stream.close();
    const got = await read;
    expect(got.map((r) => JSON.parse(r))).toEqual([...events, { type: "ERROR", message: "ü" }]);
    expect(got.every((r) => /^[\x00-\x7e]*$/.test(r))).toBe(true);
  });
});

describe("nestsDeeperThan", () => {
  const nested = (depth: number): unknown => (depth === 0 ? 1 : depth % 2 === 0 ? [nested(depth - 1)] : { a: nested(depth - 1) });

  it("counts arrays and objects, and answers at the limit exactly", () => {
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan({ a: 1, b: [1, { c: null }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: 1, b: [1, { c: null }] }, 2)).toBe(true);
    expect(nestsDeeperThan("text", 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
  });

  it("walks a very deep value without exhausting the stack", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, MAX_JSON_DEPTH)).toBe(true);
  });
});
