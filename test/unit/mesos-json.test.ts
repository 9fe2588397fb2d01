import { describe, expect, it } from "vitest";
import { portRanges } from "../../control/api/mesos-json.ts";

describe("portRanges", () => {
  it("merges consecutive ports into Mesos ranges, in order", () => {
    expect(portRanges([31005, 31000, 31001])).toEqual([
      [31000, 31001],
      [31005, 31005],
    ]);
    expect(portRanges([])).toEqual([]);
  });

  it("holds a port listed twice once (one host port mapped for tcp and for udp)", () => {
    expect(portRanges([53, 53, 54, 31000, 31000])).toEqual([
      [53, 54],
      [31000, 31000],
    ]);
  });
});
