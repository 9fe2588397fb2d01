import { describe, expect, it } from "vitest";
import { byKeys, count, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, matchesFilter, pageHref, pageOf, parsePaging, showingText } from "../../control/ui/paging.ts";

const query = (q: Record<string, string>) => (name: string) => q[name];
const numbers = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("UI paging", () => {
  it("reads page and limit, with defaults when they are missing", () => {
    expect(parsePaging(query({}))).toEqual({ page: 1, limit: DEFAULT_PAGE_SIZE, notes: [] });
    expect(parsePaging(query({ page: "3", limit: "50" }))).toEqual({ page: 3, limit: 50, notes: [] });
    expect(parsePaging(query({ p2: "4" }), { page: "p2", limit: "limit" }).page).toBe(4);
  });

  it("clamps bad values and says what it showed instead", () => {
    const cases: [Record<string, string>, number, number, RegExp][] = [
      [{ page: "-2" }, 1, DEFAULT_PAGE_SIZE, /Page -2 does not exist; showing page 1/],
      [{ page: "0" }, 1, DEFAULT_PAGE_SIZE, /Page 0 does not exist/],
      [{ page: "two" }, 1, DEFAULT_PAGE_SIZE, /Page 'two' is not a whole number/],
      [{ page: "1.5" }, 1, DEFAULT_PAGE_SIZE, /not a whole number/],
      [{ page: "99999999999999999999" }, 1, DEFAULT_PAGE_SIZE, /not a whole number/],
      [{ limit: "100000" }, 1, MAX_PAGE_SIZE, /above the maximum; showing 500 per page/],
      [{ limit: "0" }, 1, 1, /too small; showing 1 per page/],
      [{ limit: "lots" }, 1, DEFAULT_PAGE_SIZE, /Page size 'lots' is not a whole number/],
    ];
    for (const [q, page, limit, note] of cases) {
      const req = parsePaging(query(q));
      expect([req.page, req.limit], JSON.stringify(q)).toEqual([page, limit]);
      expect(req.notes.join(" "), JSON.stringify(q)).toMatch(note);
    }
    expect(parsePaging(query({ page: "x".repeat(1000) })).notes[0]?.length).toBeLessThan(80);
  });

  it("slices one page and numbers its rows from 1", () => {
    const p = pageOf(numbers(10_000), parsePaging(query({ page: "2" })));
    expect(p.items).toEqual(numbers(200).slice(100));
    expect([p.page, p.pages, p.first, p.last, p.total]).toEqual([2, 100, 101, 200, 10_000]);
    expect(showingText(p)).toBe("Showing 101–200 of 10,000");
    const last = pageOf(numbers(250), parsePaging(query({ page: "3" })));
    expect([last.items.length, last.first, last.last, last.pages]).toEqual([50, 201, 250, 3]);
  });

  it("shows the last page for a page past the end, and an empty list as page 1 of 1", () => {
    const p = pageOf(numbers(250), parsePaging(query({ page: "9" })));
    expect([p.page, p.first, p.last]).toEqual([3, 201, 250]);
    expect(p.notes).toEqual(["Page 9 is past the end; showing page 3 of 3."]);
    const empty = pageOf([], parsePaging(query({ page: "4" })));
    expect([empty.page, empty.pages, empty.first, empty.last, empty.items]).toEqual([1, 1, 0, 0, []]);
    expect(showingText(empty)).toBe("Nothing to show.");
  });

  it("links to another page keeping every other parameter but a one-time confirmation step", () => {
    const url = new URL("http://x.test/ui/k/nodes?q=rack%201&limit=50&page=2&confirm=remove");
    expect(pageHref(url, 3)).toBe("/ui/k/nodes?q=rack+1&limit=50&page=3");
    expect(pageHref(url, 1)).toBe("/ui/k/nodes?q=rack+1&limit=50");
    expect(pageHref(new URL("http://x.test/ui/k/nodes?page=2"), 1)).toBe("/ui/k/nodes");
    expect(pageHref(new URL("http://x.test/a?page=2"), 5, { page: "runs", limit: "limit" })).toBe("/a?page=2&runs=5");
  });

  it("filters by substring ignoring case, and orders by keys in turn", () => {
    expect(matchesFilter("", "anything")).toBe(true);
    expect(matchesFilter("  NODE-0", "bench-node-07")).toBe(true);
    expect(matchesFilter("node-9", "bench-node-07", null, undefined)).toBe(false);
    const rows = [
      { state: "b", id: "2" },
      { state: "a", id: "9" },
      { state: "b", id: "1" },
    ];
    expect(
      rows
        .sort(
          byKeys(
            (r) => r.state,
            (r) => r.id,
          ),
        )
        .map((r) => r.id),
    ).toEqual(["9", "1", "2"]);
    expect([count(0), count(999), count(1000), count(1_234_567)]).toEqual(["0", "999", "1,000", "1,234,567"]);
  });
});
