import { ApiError } from "../../errors.ts";

/**
 * Marathon's label selector for `GET /v2/apps?label=` (`LabelSelectorParsers`): selectors
 * separated by commas, all of which must hold:
 *   `k` (the label exists), `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`.
 * Keys and values are runs of `A-Za-z0-9._-`; any other character is escaped with a backslash.
 * As in Marathon, every selector (even `!=` and `notin`) needs the label to exist.
 */

export type Labels = Readonly<Record<string, string>>;

interface Selector {
  key: string;
  test: (value: string) => boolean;
}

const TERM = /(?:\\.|[-A-Za-z0-9_.])+/y;
const SPACE = /\s*/y;
const EQUALITY = /(==|!=)/y;
const SET_OP = /(notin|in)\s*(?=\()/y;

/** A cursor over the selector text; each `take` either consumes a token or leaves the position as it was. */
class Reader {
  at = 0;
  constructor(readonly text: string) {}

  take(pattern: RegExp): string | undefined {
    this.skipSpace();
    pattern.lastIndex = this.at;
    const m = pattern.exec(this.text);
    if (!m) return undefined;
    this.at = pattern.lastIndex;
    return m[1] ?? m[0];
  }

  char(c: string): boolean {
    this.skipSpace();
    if (this.text[this.at] !== c) return false;
    this.at += 1;
    return true;
  }

  get done(): boolean {
    this.skipSpace();
    return this.at >= this.text.length;
  }

  term(what: string): string {
    const raw = this.take(TERM);
    if (raw === undefined) this.fail(`expected ${what}`);
    return raw.replace(/\\(.)/g, "$1");
  }

  fail(reason: string): never {
    const near = this.at < this.text.length ? `'${this.text.slice(this.at, this.at + 16)}'` : "the end";
    throw new ApiError("malformed", `Can not parse label selector ${this.text}. Reason: ${reason} at position ${this.at} (near ${near})`, [
      { path: "/label", errors: [`${reason} at position ${this.at}`] },
    ]);
  }

  private skipSpace(): void {
    SPACE.lastIndex = this.at;
    SPACE.exec(this.text);
    this.at = SPACE.lastIndex;
  }
}

function readSet(r: Reader): Set<string> {
  if (!r.char("(")) r.fail("expected '('");
  const values = new Set<string>();
  if (r.char(")")) return values;
  do values.add(r.term("a value"));
  while (r.char(","));
  if (!r.char(")")) r.fail("expected ',' or ')'");
  return values;
}

function readSelector(r: Reader): Selector {
  const key = r.term("a label key");
  const setOp = r.take(SET_OP);
  if (setOp !== undefined) {
    const set = readSet(r);
    return { key, test: setOp === "in" ? (v) => set.has(v) : (v) => !set.has(v) };
  }
  const eq = r.take(EQUALITY);
  if (eq === undefined) return { key, test: () => true };
  const value = r.term("a label value");
  return { key, test: eq === "==" ? (v) => v === value : (v) => v !== value };
}

/** Parses a selector; a malformed one is a 400 saying where it goes wrong. An empty selector matches every app. */
export function parseLabelSelector(text: string | undefined): (labels: Labels) => boolean {
  if (text === undefined || text.trim() === "") return () => true;
  const r = new Reader(text);
  const selectors: Selector[] = [];
  do selectors.push(readSelector(r));
  while (r.char(","));
  if (!r.done) r.fail("expected ',' or the end");
  return (labels) => selectors.every(({ key, test }) => Object.hasOwn(labels, key) && test(labels[key] ?? ""));
}
