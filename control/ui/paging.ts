/**
 * Paging for the UI's tables: which slice of a list a page shows, read from `?page=` (1-based)
 * and `?limit=`, and the links to the pages next to it. Pure functions, so they are tested
 * without a runtime; the `Pager` component renders what they compute.
 *
 * A bad value never fails the page: it is clamped to the nearest valid one and a note says so.
 */

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;
/** Longer numbers are nonsense here, and `Number()` on them loses precision. */
const MAX_DIGITS = 9;

/** What the query asked for, clamped, with a note for each value that had to change. */
export interface PageRequest {
  page: number;
  limit: number;
  notes: string[];
}

/** One page of a list. `first`/`last` are 1-based positions (0 and 0 when the list is empty). */
export interface Page<T> {
  items: T[];
  page: number;
  pages: number;
  limit: number;
  total: number;
  first: number;
  last: number;
  notes: string[];
}

/** The query parameters a paged table reads; `page` is renamed when one page holds two paged tables. */
export interface PagingParams {
  page: string;
  limit: string;
}

export const PAGING_PARAMS: PagingParams = { page: "page", limit: "limit" };

/** A positive whole number from a query value, or undefined; `what` names it in the note. */
function wholeNumber(raw: string | undefined, what: string, notes: string[]): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const trimmed = raw.trim();
  if (!/^-?\d+$/.test(trimmed) || trimmed.replace(/^-/, "").length > MAX_DIGITS) {
    notes.push(`${what} '${raw.slice(0, 20)}' is not a whole number.`);
    return undefined;
  }
  return Number(trimmed);
}

/**
 * Reads `page` and `limit` from a query. A missing value takes its default; text, zero or a
 * negative number, or a size above MAX_PAGE_SIZE is clamped, with a note saying what was shown.
 */
export function parsePaging(query: (name: string) => string | undefined, params: PagingParams = PAGING_PARAMS): PageRequest {
  const notes: string[] = [];
  let limit = wholeNumber(query(params.limit), "Page size", notes) ?? DEFAULT_PAGE_SIZE;
  if (limit < 1) {
    notes.push(`Page size ${limit} is too small; showing 1 per page.`);
    limit = 1;
  } else if (limit > MAX_PAGE_SIZE) {
    notes.push(`Page size ${limit} is above the maximum; showing ${MAX_PAGE_SIZE} per page.`);
    limit = MAX_PAGE_SIZE;
  }
  let page = wholeNumber(query(params.page), "Page", notes) ?? 1;
  if (page < 1) {
    notes.push(`Page ${page} does not exist; showing page 1.`);
    page = 1;
  }
  return { page, limit, notes };
}

/** The requested page of `items`; a page past the end shows the last page (and says so). Only that page's items are copied. */
export function pageOf<T>(items: readonly T[], req: PageRequest): Page<T> {
  const total = items.length;
  const pages = Math.max(1, Math.ceil(total / req.limit));
  const notes = [...req.notes];
  let page = req.page;
  if (page > pages) {
    notes.push(`Page ${page} is past the end; showing page ${pages} of ${pages}.`);
    page = pages;
  }
  const start = (page - 1) * req.limit;
  const shown = items.slice(start, start + req.limit);
  return { items: shown, page, pages, limit: req.limit, total, first: shown.length ? start + 1 : 0, last: start + shown.length, notes };
}

/** `10000` as `10,000`, the same in every locale. */
export function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "Showing 101–200 of 10,000", or what an empty list says. */
export function showingText(p: Pick<Page<unknown>, "first" | "last" | "total">): string {
  if (p.total === 0) return "Nothing to show.";
  return `Showing ${count(p.first)}–${count(p.last)} of ${count(p.total)}`;
}

/** Parameters that open a one-time step on the page (a confirmation): links to other pages drop them. */
const ONE_TIME_PARAMS = new Set(["confirm"]);

/** The query of `url` without its one-time parameters. */
export function keptParams(url: URL): URLSearchParams {
  return new URLSearchParams([...url.searchParams].filter(([k]) => !ONE_TIME_PARAMS.has(k)));
}

/**
 * The link to another page of the same table: the current path and every other query
 * parameter kept (filters, the other table's page), only this table's page changed. Page 1
 * drops the parameter, so the first page has one address.
 */
export function pageHref(url: URL, page: number, params: PagingParams = PAGING_PARAMS): string {
  const search = keptParams(url);
  if (page <= 1) search.delete(params.page);
  else search.set(params.page, String(page));
  const query = search.toString();
  return query ? `${url.pathname}?${query}` : url.pathname;
}

/** The `?q=` filter as the pages use it: trimmed, and capped so a huge value costs nothing. */
export function filterText(raw: string | undefined): string {
  return (raw ?? "").trim().slice(0, 200);
}

/** Whether a text contains the filter `q`, ignoring case; an empty filter matches everything. */
export function matchesFilter(q: string, ...texts: (string | null | undefined)[]): boolean {
  const needle = q.trim().toLowerCase();
  return needle === "" || texts.some((t) => t?.toLowerCase().includes(needle));
}

/** Compares by each key in turn, so rows keep one order across refreshes and pages do not shuffle. */
export function byKeys<T>(...keys: ((t: T) => string | number)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const key of keys) {
      const [x, y] = [key(a), key(b)];
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return 0;
  };
}
