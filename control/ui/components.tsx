import type { Child } from "hono/jsx";
import { CSRF_FIELD } from "../http/session.ts";
import { percent, stateTone, taskState, time } from "./format.ts";
import { keptParams, pageHref, PAGING_PARAMS, showingText, type Page, type PagingParams } from "./paging.ts";

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
          <li>{i === last ? <span aria-current="page">{crumb.label}</span> : <a href={crumb.href}>{crumb.label}</a>}</li>
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
      <pre id={props.id} role="region" aria-label={props.label} tabindex={0}>
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
      <FieldErrors id={id} errors={errors} />
    </div>
  );
}

/** A field's errors, as the list its input's `aria-describedby` names (`<id>-errors`); nothing when there are none. */
export function FieldErrors(props: { id: string; errors: string[] }) {
  if (props.errors.length === 0) return null;
  return (
    <ul class="field-errors" id={`${props.id}-errors`}>
      {props.errors.map((e) => (
        <li>{e}</li>
      ))}
    </ul>
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

/**
 * Where a paged table stands ("Showing 101–200 of 10,000") with Previous/Next links that keep
 * the page's other query parameters. Plain links, so the keyboard and a page without scripts
 * work; a clamped `page`/`limit` is said here rather than failing the page.
 */
export function Pager<T>(props: { page: Page<T>; url: URL; label: string; params?: PagingParams }) {
  const { page: p, url, params = PAGING_PARAMS } = props;
  const more = p.pages > 1;
  return (
    <nav class="pager" aria-label={`${props.label}: pages`}>
      <p class="pager-status">{`${showingText(p)}${more ? ` (page ${p.page} of ${p.pages})` : ""}`}</p>
      {p.notes.length > 0 ? (
        <ul class="pager-notes" role="status">
          {p.notes.map((n) => (
            <li>{n}</li>
          ))}
        </ul>
      ) : null}
      {more ? (
        <ul class="pager-links">
          <li>
            {p.page > 1 ? (
              <a class="button" rel="prev" href={pageHref(url, p.page - 1, params)}>
                Previous
              </a>
            ) : (
              <span class="button" aria-disabled="true">
                Previous
              </span>
            )}
          </li>
          <li>
            {p.page < p.pages ? (
              <a class="button" rel="next" href={pageHref(url, p.page + 1, params)}>
                Next
              </a>
            ) : (
              <span class="button" aria-disabled="true">
                Next
              </span>
            )}
          </li>
        </ul>
      ) : null}
    </nav>
  );
}

/**
 * A GET form that filters a table by `?q=`. The other query parameters ride along as hidden
 * fields (the page number does not: a new filter starts at page 1).
 */
export function FilterForm(props: { url: URL; label: string; q: string }) {
  const kept = [...keptParams(props.url)].filter(([k]) => k !== "q" && k !== PAGING_PARAMS.page);
  const clear = new URLSearchParams(kept).toString();
  return (
    <form method="get" action={props.url.pathname} class="filter-form" role="search" aria-label={props.label}>
      <label for="filter-q">{props.label}</label>
      <input id="filter-q" type="search" name="q" value={props.q} maxlength={200} autocomplete="off" />
      {kept.map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      <button type="submit">Filter</button>
      {props.q ? <a href={clear ? `${props.url.pathname}?${clear}` : props.url.pathname}>Clear</a> : null}
    </form>
  );
}

/**
 * The confirmation of a destructive step: the user types `expected` (an id or hostname), so a
 * slip of a key cannot remove anything; with `force`, a box to go ahead despite a deployment.
 */
export function TypeToConfirm(props: { expected: string; force?: boolean }) {
  return (
    <>
      <div class="field">
        <label for="confirm-input">{`Type ${props.expected} to confirm`}</label>
        <input id="confirm-input" name="confirm" type="text" autocomplete="off" required />
      </div>
      {props.force ? (
        <div class="field">
          <label>
            <input type="checkbox" name="force" value="true" />
            {" Even if a deployment is in progress (force)"}
          </label>
        </div>
      ) : null}
    </>
  );
}
