import { describe, expect, test } from "bun:test";
import { attributes, decimal, fields, shortTime, table, truncate, usage } from "./output.ts";

describe("table", () => {
  test("aligns every column to its widest cell, two spaces apart, with no trailing spaces", () => {
    const out = table(
      ["ID", "STATE", "HOST"],
      [
        ["/web", "TASK_RUNNING", "node-a"],
        ["/a", "TASK_STAGING", "n"],
      ],
    );
    expect(out).toBe("ID    STATE         HOST\n/web  TASK_RUNNING  node-a\n/a    TASK_STAGING  n\n");
    expect(out.split("\n").every((line) => line === line.trimEnd())).toBe(true);
  });

  test("shows missing and empty cells as '-', numbers and booleans as text, and keeps rows on one line", () => {
    expect(
      table(
        ["A", "B", "C", "D"],
        [
          [undefined, "", 0.5, false],
          [null, "x\ny", 2, true],
        ],
      ),
    ).toBe("A  B    C    D\n-  -    0.5  false\n-  x y  2    true\n");
  });

  test("prints only the header for no rows", () => {
    expect(table(["ID", "NAME"], [])).toBe("ID  NAME\n");
  });
});

describe("formatting", () => {
  test("usage is used/total with at most two decimals", () => {
    expect(usage(0.30000000000000004, 2)).toBe("0.3/2");
    expect(usage(undefined, 1024)).toBe("0/1024");
    expect(decimal(1.005)).toBe("1");
  });

  test("truncate marks the cut", () => {
    expect(truncate("sleep 600", 20)).toBe("sleep 600");
    expect(truncate("abcdefghij", 5)).toBe("abcd…");
  });

  test("shortTime drops milliseconds", () => {
    expect(shortTime("2026-11-02T10:04:05.123Z")).toBe("2026-11-02T10:04:05Z");
    expect(shortTime(null)).toBe("-");
  });

  test("attributes use the agent's k:v;k2:v2 syntax", () => {
    expect(attributes({ rack: "r1", level: 3 })).toBe("rack:r1;level:3");
    expect(attributes(undefined)).toBe("");
  });

  test("fields align values and leave out empty ones", () => {
    expect(
      fields([
        ["id", "/web"],
        ["instances", 2],
        ["last failure", undefined],
        ["cmd", ""],
      ]),
    ).toBe("id:         /web\ninstances:  2\n");
  });
});
