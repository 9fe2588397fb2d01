import { Hono } from "hono";
import { jsonAnswer } from "../../api/dns.ts";
import { jsonToQuery, parseJsonQuery, type JsonResponse } from "../../dns/index.ts";
import { ApiError } from "../../errors.ts";
import { CopyBlock, DataTable, Empty, FormError, PageHeader } from "../components.tsx";
import { clusterOf, type UiContext, type UiEnv } from "../context.ts";
import { renderPage } from "../layout.tsx";

const TYPES = ["A", "AAAA", "SRV", "TXT", "SOA", "NS"] as const;
const TYPE_NAMES: Record<number, string> = { 1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 16: "TXT", 28: "AAAA", 33: "SRV" };
const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

interface Lookup {
  name: string;
  type: string;
  answer?: JsonResponse;
  error?: string;
}

/** Asks the cluster's DoH endpoint (its JSON dialect) the question in the query string, if there is one. */
async function lookup(c: UiContext): Promise<Lookup> {
  const name = (c.req.query("name") ?? "").trim();
  const type = (c.req.query("type") ?? "A").toUpperCase();
  if (name === "") return { name, type };
  const parsed = parseJsonQuery(new URLSearchParams({ name, type }));
  if (!parsed.ok) return { name, type, error: `The ${parsed.parameter} ${parsed.message}.` };
  try {
    const { body } = await jsonAnswer(c.env, c.get("cluster").id, jsonToQuery(parsed), new URL(c.req.url).hostname);
    return { name, type, answer: body };
  } catch (err) {
    if (err instanceof ApiError && err.code === "unavailable") return { name, type, error: err.message };
    throw err;
  }
}

function Answer(props: { answer: JsonResponse }) {
  const records = [...(props.answer.Answer ?? []), ...(props.answer.Additional ?? [])];
  return (
    <section aria-labelledby="answer-title" id="answer">
      <h2 id="answer-title">{`Answer: ${RCODES[props.answer.Status] ?? `status ${props.answer.Status}`}`}</h2>
      {records.length === 0 ? (
        <Empty>No records.</Empty>
      ) : (
        <DataTable label="Records" headers={["Name", "Type", { text: "TTL", numeric: true }, "Data"]}>
          {records.map((r) => (
            <tr>
              <td class="id">{r.name}</td>
              <td>{TYPE_NAMES[r.type] ?? String(r.type)}</td>
              <td class="num">{String(r.TTL)}</td>
              <td class="id">{r.data}</td>
            </tr>
          ))}
        </DataTable>
      )}
      <details>
        <summary>The DoH JSON answer</summary>
        <pre tabindex={0}>{JSON.stringify(props.answer, null, 2)}</pre>
      </details>
    </section>
  );
}

/** `/ui/:cluster/dns`: resolves a name through the cluster's DNS-over-HTTPS endpoint. */
export const dnsPage = new Hono<UiEnv>().get("/", async (c) => {
  const [result, settings] = await Promise.all([lookup(c), clusterOf(c).dnsSettings()]);
  const id = c.get("cluster").id;
  const origin = new URL(c.req.url).origin;
  const example = `web.marathon.${settings.zone}`;
  return renderPage(
    c,
    { title: "DNS", section: "dns" },
    <>
      <PageHeader title="DNS" />
      <p>
        {`Tasks are in DNS under the zone `}
        <code>{settings.zone}</code>
        {` (TTL ${settings.ttl} s) while they run, with Mesos-DNS names: an app `}
        <code>/web</code>
        {" answers as "}
        <code>{example}</code>
        {", its ports as SRV records "}
        <code>{`_web._tcp.marathon.${settings.zone}`}</code>.
      </p>
      <form method="get" action={`/ui/${id}/dns`} class="panel actions-row" aria-label="Resolve a name">
        <div class="field">
          <label for="dns-name">Name</label>
          <input id="dns-name" name="name" type="text" value={result.name} placeholder={example} required />
        </div>
        <div class="field">
          <label for="dns-type">Type</label>
          <select id="dns-type" name="type">
            {TYPES.map((t) => (
              <option value={t} selected={t === result.type}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <button type="submit" class="primary">
            Resolve
          </button>
        </div>
      </form>
      <FormError message={result.error} />
      {result.answer ? <Answer answer={result.answer} /> : null}
      <h2>From a DNS client</h2>
      <p>
        {"DNS clients cannot log in, so they use the DoH URL of a DNS key, made on the "}
        <a href={`/ui/${id}/tokens`}>Tokens page</a>
        {". With curl:"}
      </p>
      <CopyBlock id="doh-example" label="Query the DoH endpoint with curl" text={`curl -s '${origin}/dns/DNS_KEY/dns-query?name=${result.name || example}&type=${result.type}'`} />
    </>,
  );
});
