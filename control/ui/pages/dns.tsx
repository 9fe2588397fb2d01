import { Hono } from "hono";
import { jsonAnswer } from "../../operations/dns.ts";
import { unwrap } from "../../operations/outcome.ts";
import { DnsSettings } from "../../contract/accounts.ts";
import { jsonToQuery, parseJsonQuery, type JsonResponse } from "../../dns/index.ts";
import { ApiError } from "../../errors.ts";
import { CopyBlock, DataTable, Empty, Field, FormError, PageHeader, PostForm } from "../components.tsx";
import { actingOf, checkForm, clusterOf, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { checkFields, numberField, type FormErrors } from "../form-errors.ts";
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

/** What the zone form shows: the current settings, or what was typed with its errors. */
interface SettingsForm {
  zone: string;
  ttl: string;
  errors: FormErrors;
}

/** The zone and TTL form; each error is shown under its field. */
function DnsSettingsForm(props: { c: UiContext; form: SettingsForm }) {
  const { c, form } = props;
  return (
    <PostForm action={`/ui/${c.get("cluster").id}/dns`} csrf={c.get("csrf")} class="panel" label="DNS zone and TTL">
      <h2 id="dns-settings-title">Zone and TTL</h2>
      <div class="actions-row">
        <Field
          name="zone"
          label="Zone"
          value={form.zone}
          errors={form.errors.zone}
          hint="A lowercase DNS name, e.g. mesos or dcx.internal."
          autocomplete="off"
          required
        />
        <Field name="ttl" label="TTL (seconds)" type="number" value={form.ttl} errors={form.errors.ttl} hint="0 to 86400." min={0} max={86_400} required />
      </div>
      <p class="hint">Names answer under the new zone at once; resolvers may keep old answers for up to the old TTL.</p>
      <button type="submit" class="primary">
        Save zone and TTL
      </button>
    </PostForm>
  );
}

async function showDns(c: UiContext, form?: SettingsForm) {
  const [result, settings] = await Promise.all([lookup(c), clusterOf(c).dnsSettings()]);
  const id = c.get("cluster").id;
  const origin = new URL(c.req.url).origin;
  const example = `web.marathon.${settings.zone}`;
  return renderPage(
    c,
    { title: "DNS", section: "dns", status: form ? 422 : 200 },
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
        <code>{`_web._tcp.marathon.${settings.zone}`}</code>
        {". A port labelled "}
        <code>{'"VIP_0": "/web:80"'}</code>
        {" makes a named VIP, "}
        <code>web.marathon.l4lb.thisdcos.directory:80</code>
        {`, with an address from the cluster's VIP range `}
        <code>{settings.vipRange}</code>
        {" that every agent balances over the app's healthy tasks."}
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
      <DnsSettingsForm c={c} form={form ?? { zone: settings.zone, ttl: String(settings.ttl), errors: {} }} />
      <h2>From a DNS client</h2>
      <p>
        {"DNS clients cannot log in, so they use the DoH URL of a DNS key, made on the "}
        <a href={`/ui/${id}/tokens`}>Tokens page</a>
        {". With curl:"}
      </p>
      <CopyBlock
        id="doh-example"
        label="Query the DoH endpoint with curl"
        text={`curl -s '${origin}/dns/DNS_KEY/dns-query?name=${result.name || example}&type=${result.type}'`}
      />
    </>,
  );
}

/** `/ui/:cluster/dns`: resolves a name through the cluster's DNS-over-HTTPS endpoint, and changes the zone and TTL. */
export const dnsPage = new Hono<UiEnv>()
  .get("/", (c) => showDns(c))
  .post("/", checkForm, async (c) => {
    const form = { zone: (await formField(c, "zone")).trim(), ttl: (await formField(c, "ttl")).trim() };
    const checked = checkFields(DnsSettings.pick({ zone: true, ttl: true }).required(), { zone: form.zone, ttl: numberField(form.ttl) });
    if (!checked.ok) return showDns(c, { ...form, errors: checked.errors });
    const settings = unwrap(await actingOf(c).setDnsSettings(checked.value));
    return redirectWithFlash(c, `/ui/${c.get("cluster").id}/dns`, { kind: "ok", text: `DNS zone is now ${settings.zone}, TTL ${settings.ttl} s.` });
  });
