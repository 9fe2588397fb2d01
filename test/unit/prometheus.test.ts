import { describe, expect, it } from "vitest";
import { Histogram, escapeLabelValue, formatValue, renderExposition } from "../../protocol/prometheus.ts";
import { parseExposition, sampleValue, series } from "../support/prometheus.ts";

describe("the Prometheus text writer", () => {
  it("escapes label values and help so a third-party parser reads back exactly what was written", () => {
    const nasty = 'C:\\dir\\"file"\nsecond line';
    const text = renderExposition([
      {
        name: "dcx_test_gauge",
        help: "Help with a \\ backslash\nand a new line.",
        type: "gauge",
        samples: [
          { labels: { path: nasty, kind: "a" }, value: 1.5 },
          { labels: { path: "plain", kind: "b" }, value: -2 },
        ],
      },
    ]);
    expect(text).toContain('path="C:\\\\dir\\\\\\"file\\"\\nsecond line"');
    expect(text).toContain("# HELP dcx_test_gauge Help with a \\\\ backslash\\nand a new line.");
    const m = parseExposition(text);
    expect(sampleValue(m, "dcx_test_gauge", { path: nasty })).toBe(1.5);
    expect(sampleValue(m, "dcx_test_gauge", { kind: "b" })).toBe(-2);
    expect(text.endsWith("\n")).toBe(true);
  });

  it("writes histograms with cumulative buckets, +Inf, _sum and _count", () => {
    const h = new Histogram([0.1, 1]);
    for (const v of [0.05, 0.5, 0.7, 3]) h.observe(v);
    const text = renderExposition([{ name: "dcx_test_seconds", help: "A histogram.", type: "histogram", series: [h.series({ kind: "x" })] }]);
    expect(text).toContain(
      'dcx_test_seconds_bucket{kind="x",le="0.1"} 1\ndcx_test_seconds_bucket{kind="x",le="1"} 3\ndcx_test_seconds_bucket{kind="x",le="+Inf"} 4',
    );
    // The parser keeps _sum and _count only for unlabelled histograms (DCX's are unlabelled).
    const s = series(
      parseExposition(renderExposition([{ name: "dcx_test_seconds", help: "A histogram.", type: "histogram", series: [h.series()] }])),
      "dcx_test_seconds",
    );
    expect(s.buckets).toEqual({ "0.1": "1", "1": "3", "+Inf": "4" });
    expect(Number(s.sum)).toBeCloseTo(4.25);
    expect(s.count).toBe("4");
  });

  it("a histogram restored from its saved JSON goes on counting; a damaged one starts over", () => {
    const h = new Histogram([1]);
    h.observe(0.5);
    const restored = new Histogram([1], JSON.parse(JSON.stringify(h)));
    restored.observe(2);
    expect(restored.toJSON()).toEqual({ counts: [1, 1], sum: 2.5 });
    expect(new Histogram([1, 2], { counts: [1, 1], sum: 2 }).toJSON()).toEqual({ counts: [0, 0, 0], sum: 0 });
  });

  it("refuses names Prometheus would reject, and families rendered twice", () => {
    expect(() => renderExposition([{ name: "dcx-bad", help: "", type: "gauge", samples: [] }])).toThrow("invalid metric name");
    expect(() => renderExposition([{ name: "dcx_ok", help: "", type: "gauge", samples: [{ labels: { "bad-label": "x" }, value: 1 }] }])).toThrow(
      "invalid label name",
    );
    expect(() => renderExposition([{ name: "dcx_ok", help: "", type: "gauge", samples: [{ labels: { __reserved: "x" }, value: 1 }] }])).toThrow(
      "invalid label name",
    );
    const twice = { name: "dcx_twice", help: "", type: "gauge" as const, samples: [] };
    expect(() => renderExposition([twice, twice])).toThrow("rendered twice");
  });

  it("formats special values as Go does", () => {
    expect([Infinity, -Infinity, NaN, 0.25, 1e21].map(formatValue)).toEqual(["+Inf", "-Inf", "NaN", "0.25", "1e+21"]);
    expect(escapeLabelValue('a"b')).toBe('a\\"b');
  });
});
