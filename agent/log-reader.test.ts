import { describe, expect, test } from "bun:test";
import { appendFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capLog } from "./drivers/log-files.ts";
import { completeLength, frameEnds, readFrom, readTail } from "./log-reader.ts";
import { testScope } from "./test-support/scope.ts";

const scope = testScope("dcx-log-reader");
const text = (b: Buffer) => b.toString("utf8");

function stream(content: string, previous?: string): string {
  const path = join(scope.tempDir(), "stdout");
  writeFileSync(path, content);
  if (previous !== undefined) writeFileSync(`${path}.1`, previous);
  return path;
}

describe("readTail", () => {
  test("the last N lines; a final line break ends a line, it does not start one", () => {
    const path = stream("one\ntwo\nthree\n");
    expect(text(readTail(path, 2, 1024).bytes)).toBe("two\nthree\n");
    expect(text(readTail(path, 3, 1024).bytes)).toBe("one\ntwo\nthree\n");
    expect(text(readTail(path, 10, 1024).bytes)).toBe("one\ntwo\nthree\n");
    expect(text(readTail(path, 0, 1024).bytes)).toBe("");
    expect(text(readTail(stream("a\nb\npartial"), 2, 1024).bytes)).toBe("b\npartial");
  });

  test("without a line count, everything within the byte bound; a window cut mid-line starts at the next line", () => {
    const path = stream("first line\nsecond\nthird\n");
    expect(text(readTail(path, undefined, 1024).bytes)).toBe("first line\nsecond\nthird\n");
    expect(text(readTail(path, undefined, 10).bytes)).toBe("third\n");
    expect(text(readTail(path, 100, 10).bytes)).toBe("third\n");
  });

  test("reads into the rotated .1 file when the current one holds less; offsets of .1 output are 0", () => {
    const path = stream("new1\nnew2\n", "old1\nold2\n");
    const read = readTail(path, 3, 1024);
    expect(text(read.bytes)).toBe("old2\nnew1\nnew2\n");
    expect(read.position).toBe(10);
    expect(read.positionAt(5)).toBe(0);
    expect(read.positionAt(10)).toBe(5);
    expect(read.positionAt(15)).toBe(10);
  });

  test("positions within the current file count from its start, and a missing file reads empty", () => {
    const path = stream("abc\ndef\nghi\n");
    const read = readTail(path, 1, 1024);
    expect(text(read.bytes)).toBe("ghi\n");
    expect(read.positionAt(4)).toBe(12);
    expect(read.ino).toBeGreaterThan(0);
    const missing = readTail(join(scope.tempDir(), "stderr"), 5, 1024);
    expect(missing).toMatchObject({ position: 0, ino: 0 });
    expect(missing.bytes.length).toBe(0);
  });

  test("a character still being written is held back", () => {
    const euro = Buffer.from("€");
    const path = stream("");
    writeFileSync(path, Buffer.concat([Buffer.from("price: "), euro.subarray(0, 2)]));
    const read = readTail(path, undefined, 1024);
    expect(text(read.bytes)).toBe("price: ");
    expect(read.position).toBe(7);
  });
});

describe("readFrom", () => {
  test("continues at a position, and starts over when the file was truncated or replaced", () => {
    const path = stream("hello\n");
    const first = readFrom(path, 0, 1024);
    expect(text(first.bytes)).toBe("hello\n");
    appendFileSync(path, "world\n");
    const next = readFrom(path, first.position, 1024, first.ino);
    expect(text(next.bytes)).toBe("world\n");
    expect(next.position).toBe(12);
    truncateSync(path, 0);
    appendFileSync(path, "again\n");
    expect(text(readFrom(path, next.position, 1024, next.ino).bytes)).toBe("again\n");
    const replacement = `${path}.new`;
    writeFileSync(replacement, "a longer replacement file\n");
    renameSync(replacement, path);
    expect(text(readFrom(path, 3, 1024, next.ino).bytes)).toBe("a longer replacement file\n");
  });

  test("after a copytruncate rotation the follower reads the fresh file from its start", () => {
    const path = stream("x".repeat(100) + "\n");
    const before = readFrom(path, 0, 1024);
    appendFileSync(path, "y".repeat(100) + "\n");
    expect(capLog(path, 50)).toBe(true);
    appendFileSync(path, "after\n");
    expect(text(readFrom(path, before.position, 1024, before.ino).bytes)).toBe("after\n");
  });

  test("reads at most maxBytes, ending on a whole character; a missing file reads empty", () => {
    const path = stream("ab€cd");
    const read = readFrom(path, 0, 4);
    expect(text(read.bytes)).toBe("ab");
    expect(read.position).toBe(2);
    expect(text(readFrom(path, read.position, 1024).bytes)).toBe("€cd");
    rmSync(path);
    expect(readFrom(path, 5, 1024)).toMatchObject({ position: 0, ino: 0 });
  });
});

describe("frames", () => {
  test("frameEnds splits within the limit and never inside a character", () => {
    const bytes = Buffer.from("aaa€bbb");
    const ends = frameEnds(bytes, 4);
    expect(ends).toEqual([3, 7, 9]);
    const frames = ends.map((end, i) => text(bytes.subarray(ends[i - 1] ?? 0, end)));
    expect(frames.join("")).toBe("aaa€bbb");
    for (const end of ends) expect(end - (ends[ends.indexOf(end) - 1] ?? 0)).toBeLessThanOrEqual(4);
    expect(frameEnds(Buffer.alloc(0), 4)).toEqual([]);
  });

  test("completeLength drops only an unfinished character", () => {
    const emoji = Buffer.from("😀");
    expect(completeLength(Buffer.from("plain"))).toBe(5);
    expect(completeLength(Buffer.concat([Buffer.from("a"), emoji]))).toBe(5);
    expect(completeLength(Buffer.concat([Buffer.from("a"), emoji.subarray(0, 3)]))).toBe(1);
  });
});
