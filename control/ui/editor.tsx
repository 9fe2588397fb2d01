import type { Child } from "hono/jsx";
import type { FieldError } from "../../protocol/messages.ts";
import type { ApiError } from "../errors.ts";
import { FormError, PostForm } from "./components.tsx";
import { jsonLineMap, jsonSyntaxProblem, lineOf, type SyntaxProblem } from "./json-lines.ts";

/**
 * The JSON editor of the deploy forms (apps and jobs): a textarea that works without scripts.
 * A rejected definition comes back with Marathon's errors listed by field path, each linked
 * to its line, and the submitted JSON shown line by line with each error under its field.
 */

export interface LineError extends FieldError {
  line: number;
}

/** What a submitted definition did wrong: a syntax error, field errors, or a message (e.g. a 409). */
export interface EditorProblems {
  syntax?: SyntaxProblem;
  errors?: LineError[];
  message?: string;
}

/** Places each field error on the line of its field in the submitted text. */
export function placeErrors(text: string, details: FieldError[]): LineError[] {
  const lines = jsonLineMap(text);
  return details.map((d) => ({ ...d, line: lineOf(lines, d.path) })).sort((a, b) => a.line - b.line);
}

/** Parses the editor's text into a JSON object, or says what is wrong with it. */
export function readDefinition(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; problems: EditorProblems } {
  const syntax = jsonSyntaxProblem(text);
  if (syntax) return { ok: false, problems: { syntax } };
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, problems: { errors: [{ path: "/", errors: ["expected a JSON object"], line: 1 }] } };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** The problems an API error stands for: its field details placed on lines, else its message. */
export function problemsOf(err: ApiError, text: string): EditorProblems {
  const details = err.details.filter((d): d is FieldError => typeof d === "object" && d !== null && "path" in d && "errors" in d);
  return details.length > 0 ? { errors: placeErrors(text, details), message: err.message } : { message: err.message };
}

function ErrorList(props: { errors: LineError[] }) {
  return (
    <>
      <h2 id="editor-errors-title">{`${props.errors.length} ${props.errors.length === 1 ? "problem" : "problems"} to fix`}</h2>
      <ol class="editor-errors" id="editor-errors" aria-labelledby="editor-errors-title">
        {props.errors.map((e) => (
          <li>
            <a href="#editor" data-line={String(e.line)}>{`Line ${e.line}`}</a> <code>{e.path}</code>
            {`: ${e.errors.join("; ")}`}
          </li>
        ))}
      </ol>
    </>
  );
}

/** The submitted text line by line, each error under the line of its field. */
function AnnotatedJson(props: { text: string; errors: LineError[] }) {
  const byLine = new Map<number, LineError[]>();
  for (const e of props.errors) byLine.set(e.line, [...(byLine.get(e.line) ?? []), e]);
  return (
    <section aria-labelledby="annotated-title">
      <h2 id="annotated-title">Your JSON, with each error at its field</h2>
      <ol class="json-lines">
        {props.text.split("\n").map((line, i) => {
          const errors = byLine.get(i + 1) ?? [];
          return (
            <li id={`json-line-${i + 1}`} class={errors.length ? "has-error" : undefined}>
              <span class="ln" aria-hidden="true">
                {String(i + 1)}
              </span>
              <code>{line}</code>
              {errors.map((e) => (
                <span class="line-error">{`↑ ${e.path}: ${e.errors.join("; ")}`}</span>
              ))}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

export interface EditorProps {
  action: string;
  csrf: string;
  label: string;
  text: string;
  submitLabel: string;
  problems: EditorProblems;
  /** Extra fields (hidden ids, a force checkbox). */
  children?: Child;
}

export function JsonEditor(props: EditorProps) {
  const { syntax, errors = [], message } = props.problems;
  const invalid = syntax !== undefined || errors.length > 0;
  return (
    <>
      <FormError message={syntax ? undefined : message} />
      {syntax ? (
        <p class="form-error" role="alert">
          {`The JSON does not parse: ${syntax.message} at `}
          <a href="#editor" data-line={String(syntax.line)}>{`line ${syntax.line}, column ${syntax.column}`}</a>.
        </p>
      ) : null}
      {errors.length > 0 ? <ErrorList errors={errors} /> : null}
      <PostForm action={props.action} csrf={props.csrf}>
        <div class="field">
          <label for="editor">{props.label}</label>
          <textarea
            id="editor"
            name="json"
            class="editor"
            rows={16}
            spellcheck={false}
            autocomplete="off"
            data-editor
            aria-invalid={invalid ? "true" : undefined}
            aria-describedby={["editor-syntax", errors.length ? "editor-errors" : ""].filter(Boolean).join(" ")}
          >
            {props.text}
          </textarea>
          <p id="editor-syntax" class="syntax" role="status"></p>
        </div>
        {props.children}
        <button type="submit" class="primary">
          {props.submitLabel}
        </button>
      </PostForm>
      {errors.length > 0 ? <AnnotatedJson text={props.text} errors={errors} /> : null}
    </>
  );
}
