import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { PlacedOperation } from "./document.ts";
import { SECTIONS } from "./document.ts";

/**
 * `/docs`: the OpenAPI document as one page, rendered by the Worker. It loads nothing (no
 * script, no font, no stylesheet from elsewhere), so it works offline and behind any proxy;
 * request bodies are shown as the JSON Schema the document holds.
 */

type Json = Record<string, unknown>;

/** Content-Security-Policy of the page: nothing but its own inline style. */
export const DOCS_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fff}
header,main{max-width:72rem;margin:0 auto;padding:0 1.5rem}
header{padding-top:1.5rem;border-bottom:1px solid #dde1e8}
h1{margin:.2rem 0}h2{margin-top:2.5rem;border-bottom:2px solid #1d2330}
nav a{margin-right:1rem}a{color:#0b5cad}
.op{border:1px solid #dde1e8;border-radius:6px;margin:1rem 0;padding:.6rem .9rem}
.op h3{margin:0;font-size:1rem;display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
.m{font:600 .8rem ui-monospace,monospace;padding:.1rem .45rem;border-radius:4px;color:#fff;background:#55607a;text-transform:uppercase}
.get{background:#1c7c54}.post{background:#0b5cad}.put{background:#9a5b00}.patch{background:#6b4bb5}.delete{background:#b3261e}
code,pre{font-family:ui-monospace,monospace;font-size:.85rem}
pre{background:#f4f6f9;padding:.6rem;overflow:auto;max-height:28rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{border-bottom:1px solid #eef0f4;padding:.2rem .6rem;text-align:left;vertical-align:top}
.muted{color:#5b6478}
`;

/** Text whose `backticked` parts are code, as the document's descriptions write them. */
function Md({ text }: { text: string }) {
  return <>{text.split("`").map((part, i) => (i % 2 === 1 ? <code>{part}</code> : part))}</>;
}

const param = (p: Json) => (
  <tr>
    <td>
      <code>{String(p.name)}</code>
    </td>
    <td>{String(p.in)}</td>
    <td class="muted">
      <Md text={typeof p.description === "string" ? p.description : p.required ? "required" : ""} />
    </td>
  </tr>
);

function Operation({ op }: { op: PlacedOperation }) {
  const o = op.operation;
  const parameters = (o.parameters as Json[] | undefined) ?? [];
  const body = (o.requestBody as { content: Record<string, { schema: unknown }> } | undefined)?.content["application/json"]?.schema;
  const responses = Object.entries((o.responses as Record<string, Json>) ?? {}).filter(([status]) => status !== "default");
  return (
    <section class="op" id={String(o.operationId)}>
      <h3>
        <span class={`m ${op.method}`}>{op.method}</span>
        <code>{op.path}</code>
        <span>
          <Md text={String(o.summary)} />
        </span>
      </h3>
      {typeof o.description === "string" ? (
        <p>
          <Md text={o.description} />
        </p>
      ) : null}
      {parameters.length > 0 ? <table>{parameters.map(param)}</table> : null}
      {body !== undefined ? (
        <details>
          <summary>Request body (JSON Schema)</summary>
          <pre>{JSON.stringify(body, null, 2)}</pre>
        </details>
      ) : null}
      <p class="muted">
        <Md text={responses.map(([status, r]) => `${status}: ${String(r.description)}`).join(" · ")} />
      </p>
    </section>
  );
}

/** The whole page, as an HTML string. */
export function docsPage(document: Json, operations: readonly PlacedOperation[]): string {
  const info = document.info as { title: string; version: string; summary: string; description: string };
  const byTag = SECTIONS.map((s) => ({ section: s, ops: operations.filter((o) => o.tag === s.tag) })).filter((g) => g.ops.length > 0);
  const page: Child = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${info.title} API reference`}</title>
        <style>{raw(STYLE)}</style>
      </head>
      <body>
        <header>
          <h1>
            {info.title} API <span class="muted">{info.version}</span>
          </h1>
          <p>
            <Md text={`${info.summary} ${info.description}`} /> The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
          </p>
          <nav>
            {byTag.map((g) => (
              <a href={`#tag-${g.section.tag.replace(/\W+/g, "-")}`}>{g.section.tag}</a>
            ))}
          </nav>
        </header>
        <main>
          {byTag.map((g) => (
            <div>
              <h2 id={`tag-${g.section.tag.replace(/\W+/g, "-")}`}>{g.section.tag}</h2>
              <p>
                <Md text={g.section.description} />
              </p>
              {g.ops.map((op) => (
                <Operation op={op} />
              ))}
            </div>
          ))}
        </main>
      </body>
    </html>
  );
  return `<!doctype html>${String(page)}`;
}
