/**
 * Where things are in a JSON text, so the deploy form can show each validation error next to
 * the line of the field it names. A small scanner walks the text once and records, for every
 * member and array item, the line it starts on under its path (`/container/docker/image`,
 * `/portDefinitions/0/port`: the paths Marathon's 422 `details` use). It also locates syntax
 * errors by line and column, which `JSON.parse` messages do not reliably give.
 */

export interface SyntaxProblem {
  message: string;
  line: number;
  column: number;
}

class ScanError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** Nesting beyond this is refused rather than risking the stack (Marathon apps are shallow). */
const MAX_DEPTH = 200;

class Scanner {
  pos = 0;
  readonly lines = new Map<string, number>();
  private readonly lineStarts: number[] = [0];

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of a position. */
  where(pos: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: pos - (this.lineStarts[lo] ?? 0) + 1 };
  }

  document(): void {
    this.ws();
    this.value("", 0);
    this.ws();
    if (this.pos < this.text.length) this.fail("unexpected text after the JSON value");
  }

  private fail(message: string): never {
    throw new ScanError(message, this.pos);
  }

  private ws(): void {
    while (this.pos < this.text.length && " \t\n\r".includes(this.text[this.pos] ?? "")) this.pos++;
  }

  private record(path: string): void {
    if (!this.lines.has(path || "/")) this.lines.set(path || "/", this.where(this.pos).line);
  }

  private value(path: string, depth: number): void {
    if (depth > MAX_DEPTH) this.fail("nested too deeply");
    this.record(path);
    const ch = this.text[this.pos];
    if (ch === "{") return this.object(path, depth);
    if (ch === "[") return this.array(path, depth);
    if (ch === '"') return void this.string();
    if (ch !== undefined && /[-0-9]/.test(ch)) return this.number();
    for (const word of ["true", "false", "null"]) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    this.fail(ch === undefined ? "the JSON ends too early" : `unexpected character '${ch}'`);
  }

  private object(path: string, depth: number): void {
    this.pos++;
    this.ws();
    if (this.text[this.pos] === "}") return void this.pos++;
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail("expected a quoted member name");
      const keyPos = this.pos;
      const key = this.string();
      if (!this.lines.has(`${path}/${key}`)) this.lines.set(`${path}/${key}`, this.where(keyPos).line);
      this.ws();
      if (this.text[this.pos] !== ":") this.fail(`expected ':' after "${key}"`);
      this.pos++;
      this.ws();
      this.value(`${path}/${key}`, depth + 1);
      this.ws();
      if (this.text[this.pos] === ",") {
        this.pos++;
        continue;
      }
      if (this.text[this.pos] === "}") return void this.pos++;
      this.fail("expected ',' or '}' (a missing comma?)");
    }
  }

  private array(path: string, depth: number): void {
    this.pos++;
    this.ws();
    if (this.text[this.pos] === "]") return void this.pos++;
    for (let i = 0; ; i++) {
      this.ws();
      this.value(`${path}/${i}`, depth + 1);
      this.ws();
      if (this.text[this.pos] === ",") {
        this.pos++;
        continue;
      }
      if (this.text[this.pos] === "]") return void this.pos++;
      this.fail("expected ',' or ']' (a missing comma?)");
    }
  }

  /** Scans a string literal and returns its text (escapes decoded). */
  private string(): string {
    const start = this.pos;
    this.pos++;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === '"') {
        this.pos++;
        try {
          return JSON.parse(this.text.slice(start, this.pos)) as string;
        } catch {
          this.pos = start;
          this.fail("invalid escape in a string");
        }
      }
      if (ch === "\n") this.fail("a string is not closed on its line");
      this.pos += ch === "\\" ? 2 : 1;
    }
    this.pos = start;
    return this.fail("a string is not closed");
  }

  private number(): void {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    if (!m) this.fail("invalid number");
    this.pos += m[0].length;
  }
}

/** Lines of every path in a JSON text; for text that does not parse, of the paths before the error. */
export function jsonLineMap(text: string): Map<string, number> {
  const scanner = new Scanner(text);
  try {
    scanner.document();
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
  }
  return scanner.lines;
}

/** Where a JSON text stops being JSON, or undefined when it is JSON. */
export function jsonSyntaxProblem(text: string): SyntaxProblem | undefined {
  const scanner = new Scanner(text);
  try {
    scanner.document();
    return undefined;
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    return { message: err.message, ...scanner.where(err.pos) };
  }
}

/**
 * The line an error path points at: the path's own line, else its nearest ancestor's (a
 * missing field is reported on the object that lacks it), else line 1.
 */
export function lineOf(lines: Map<string, number>, path: string): number {
  let p = path === "" ? "/" : path;
  for (;;) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    if (p === "/" || !p.includes("/")) return 1;
    p = p.slice(0, p.lastIndexOf("/")) || "/";
  }
}
