import type { Child } from "hono/jsx";
import { CSRF_FIELD } from "../http/session.ts";
import { percent, stateTone, taskState, time } from "./format.ts";

/** A POST form carrying the session's CSRF token; `action` names what the button does for the route. */
export function PostForm(props: { action: string; csrf: string; op?: string; class?: string; label?: string; children?: Child }) {
  return (
    <form method="post" action={props.action} class={props.class} aria-label={props.label}>
      <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
      {props.op ? <input type="hidden" name="op" value={props.op} /> : null}
      {props.children}
    </form>
  );
}

/** A state as a coloured badge; the text is always there, so colour is never the only cue. `count` prefixes it (`2 Running`). */
export function StateBadge(props: { state: string; count?: number }) {
  const text = taskState(props.state);
  return <span class={`badge badge-${stateTone(props.state)}`}>{props.count === undefined ? text : `${props.count} ${text}`}</span>;
}

/** A column heading; numeric columns are right-aligned. */
export type Header = string | { text: string; numeric: true };

/**
 * A table with one row of column headings, its rows as children. It scrolls sideways on narrow
 * screens and is focusable, so keyboard users can scroll it too. `tbody` adds attributes to the
 * body (e.g. a hook for rows a script fills in).
 */
export function DataTable(props: { label: string; headers: Header[]; caption?: string; tbody?: Record<string, string | boolean>; children?: Child }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabindex={0}>
      <table>
        {props.caption === undefined ? null : <caption class="visually-hidden">{props.caption}</caption>}
        <thead>
          <tr>
            {props.headers.map((h) =>
              typeof h === "string" ? (
                <th scope="col">{h}</th>
              ) : (
                <th scope="col" class="num">
                  {h.text}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody {...props.tbody}>{props.children}</tbody>
      </table>
    </div>
  );
}

/** `used / total` with a meter; the text carries the numbers for screen readers and narrow screens. */
export function Usage(props: { used: number; total: number; format: (n: number) => string; label: string }) {
  return (
    <span class="usage">
      <meter min={0} max={props.total || 1} value={props.used} aria-label={`${props.label}: ${percent(props.used, props.total)}%`}></meter>
      <span>{`${props.format(props.used)} / ${props.format(props.total)}`}</span>
    </span>
  );
}

/** A time in UTC, machine-readable too. */
export function Time(props: { iso: string | null | undefined }) {
  if (!props.iso) return <span>–</span>;
  return <time datetime={props.iso.replace(/\+0000$/, "Z")}>{time(props.iso)}</time>;
}

/** A page's heading with its actions beside it. */
export function PageHeader(props: { title: string; children?: Child }) {
  return (
    <div class="page-header">
      <h1>{props.title}</h1>
      {props.children ? <div class="page-actions">{props.children}</div> : null}
    </div>
  );
}

/** One step of a breadcrumb trail; the last step is the current page and has no link. */
export interface Crumb {
  label: string;
  href: string;
}

/** Where a page sits in a hierarchy (Services / prod / web), as an ordered list of links. */
export function Breadcrumbs(props: { crumbs: Crumb[] }) {
  const last = props.crumbs.length - 1;
  return (
    <nav class="breadcrumbs" aria-label="Breadcrumb">
      <ol>
        {props.crumbs.map((crumb, i) => (
          <li>
            {i === last ? (
              <span aria-current="page">{crumb.label}</span>
            ) : (
              <a href={crumb.href}>{crumb.label}</a>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}

/** What a list shows when it has nothing in it. */
export function Empty(props: { children?: Child }) {
  return <p class="empty">{props.children}</p>;
}

/** A definition list of label/value pairs. */
export function Facts(props: { items: [string, Child][] }) {
  return (
    <dl class="facts">
      {props.items.map(([k, v]) => (
        <div>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Text that users copy (commands, tokens): selectable, with a copy button that scripts enable. */
export function CopyBlock(props: { id: string; label: string; text: string }) {
  return (
    <div class="copy-block">
      <pre id={props.id} aria-label={props.label} tabindex={0}>
        <code>{props.text}</code>
      </pre>
      <button type="button" class="copy-button" data-copy={props.id} hidden>
        Copy
      </button>
    </div>
  );
}

/** A labelled input with its errors tied to it (`aria-describedby`), so they are read with the field. */
export function Field(props: {
  name: string;
  label: string;
  type?: string;
  value?: string;
  errors?: string[];
  hint?: string;
  autocomplete?: string;
  required?: boolean;
  min?: number;
  max?: number;
}) {
  const id = `field-${props.name}`;
  const errors = props.errors ?? [];
  const described = [props.hint ? `${id}-hint` : "", errors.length ? `${id}-errors` : ""].filter(Boolean).join(" ");
  return (
    <div class={errors.length ? "field field-invalid" : "field"}>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={props.value}
        autocomplete={props.autocomplete}
        required={props.required}
        min={props.min}
        max={props.max}
        aria-invalid={errors.length ? "true" : undefined}
        aria-describedby={described || undefined}
      />
      {props.hint ? (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {errors.length ? (
        <ul class="field-errors" id={`${id}-errors`}>
          {errors.map((e) => (
            <li>{e}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** A form-level error, announced when the page loads. */
export function FormError(props: { message: string | undefined }) {
  return props.message ? (
    <p class="form-error" role="alert">
      {props.message}
    </p>
  ) : null;
}
