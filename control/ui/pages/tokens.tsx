import { Hono } from "hono";
import type { z } from "zod";
import { fieldErrors } from "../../../protocol/messages.ts";
import { listSecrets, type SecretInfo } from "../../accounts/cluster-secrets.ts";
import { NewAgentToken, NewDnsKey } from "../../contract/accounts.ts";
import { createAgentToken, createDnsKey, dohUrl, revokeAgentToken, revokeDnsKey } from "../../operations/clusters.ts";
import { ApiError } from "../../errors.ts";
import { CopyBlock, DataTable, Empty, PageHeader, PostForm, StateBadge, Time } from "../components.tsx";
import { checkForm, formField, redirectWithFlash, type UiContext, type UiEnv } from "../context.ts";
import { renderPage } from "../layout.tsx";

/** Expiry choices for a join token: a token is only needed until its agents have joined. */
const EXPIRIES: [string, string][] = [
  ["", "Never"],
  ["3600", "1 hour"],
  ["86400", "1 day"],
  ["604800", "7 days"],
  ["2592000", "30 days"],
];

/** Where an agent keeps its identity and task sandboxes, in the command the page shows. */
export const AGENT_WORK_DIR = "/var/lib/dcx";

/** A secret shown once, right after it was created. */
type Created = { kind: "join"; token: string } | { kind: "dns"; key: string; url: string };

/** The commands that start an agent with a join token: from a checkout, and with the `dcx` binary. */
export function agentCommands(master: string, clusterId: string, token: string): { npm: string; dcx: string } {
  const flags = `--master ${master} --cluster ${clusterId} --token ${token} --work-dir ${AGENT_WORK_DIR}`;
  return { npm: `npm run agent -- ${flags}`, dcx: `dcx agent run ${flags}` };
}

function ShownOnce(props: { c: UiContext; created: Created }) {
  const { created } = props;
  const master = new URL(props.c.req.url).origin;
  if (created.kind === "join") {
    const commands = agentCommands(master, props.c.get("cluster").id, created.token);
    return (
      <section class="secret" aria-labelledby="created-title">
        <h2 id="created-title" tabindex={-1} data-autofocus>
          Agent token created
        </h2>
        <p>It is shown only now. Start an agent on each machine with this command, from a DCX checkout after npm install:</p>
        <CopyBlock id="agent-command" label="Command that starts an agent" text={commands.npm} />
        <p>or with the dcx binary:</p>
        <CopyBlock id="agent-command-dcx" label="Command that starts an agent with the dcx binary" text={commands.dcx} />
        <p class="hint">Once joined, an agent keeps its own credential in its work dir and no longer needs the token.</p>
      </section>
    );
  }
  return (
    <section class="secret" aria-labelledby="created-title">
      <h2 id="created-title" tabindex={-1} data-autofocus>
        DNS key created
      </h2>
      <p>It is shown only now. DNS-over-HTTPS clients use this URL:</p>
      <CopyBlock id="doh-url" label="DoH URL" text={created.url} />
      <CopyBlock id="doh-curl" label="A query with curl" text={`curl -s '${created.url}?name=web.marathon.mesos&type=A'`} />
    </section>
  );
}

function SecretsTable(props: { c: UiContext; label: string; secrets: SecretInfo[]; revokeOp: string }) {
  if (props.secrets.length === 0) return <Empty>None yet.</Empty>;
  return (
    <DataTable label={props.label} headers={["Description", "Id", "Created", "Expires", "Status", "Action"]}>
      {props.secrets.map((s) => (
        <tr>
          <th scope="row">{s.description || "–"}</th>
          <td class="id">{s.id}</td>
          <td>
            <Time iso={s.createdAt} />
          </td>
          <td>{s.expiresAt ? <Time iso={s.expiresAt} /> : "never"}</td>
          <td>
            <StateBadge state={s.status === "active" ? "ACTIVE" : s.status.toUpperCase()} />
          </td>
          <td>
            {s.status === "active" ? (
              <PostForm
                action={`/ui/${props.c.get("cluster").id}/tokens`}
                csrf={props.c.get("csrf")}
                op={props.revokeOp}
                class="inline-form"
                label={`Revoke ${s.id}`}
              >
                <input type="hidden" name="id" value={s.id} />
                <button type="submit">Revoke</button>
              </PostForm>
            ) : (
              "–"
            )}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

async function showTokens(c: UiContext, created?: Created, error?: string) {
  const db = c.get("db");
  const id = c.get("cluster").id;
  const [tokens, keys] = await Promise.all([listSecrets(db, id, "join"), listSecrets(db, id, "dns")]);
  const action = `/ui/${id}/tokens`;
  return renderPage(
    c,
    { title: "Tokens", section: "tokens", status: error ? 422 : 200 },
    <>
      <PageHeader title="Tokens" />
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {created ? <ShownOnce c={c} created={created} /> : null}
      <h2>Agent join tokens</h2>
      <p>An agent joins the cluster with a join token, then keeps a credential of its own.</p>
      <PostForm action={action} csrf={c.get("csrf")} op="create-agent-token" class="panel actions-row" label="Create an agent token">
        <div>
          <label for="token-description">Description</label>
          <input id="token-description" name="description" type="text" maxlength={256} placeholder="rack 1" />
        </div>
        <div>
          <label for="token-expiry">Expires after</label>
          <select id="token-expiry" name="expiresInSeconds">
            {EXPIRIES.map(([value, label]) => (
              <option value={value} selected={value === "86400"}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="primary">
          Create agent token
        </button>
      </PostForm>
      <SecretsTable c={c} label="Agent join tokens" secrets={tokens} revokeOp="revoke-agent-token" />
      <h2>DNS keys</h2>
      <p>A DNS key gives a DNS-over-HTTPS URL that resolves the cluster's names from anywhere.</p>
      <PostForm action={action} csrf={c.get("csrf")} op="create-dns-key" class="panel actions-row" label="Create a DNS key">
        <div>
          <label for="key-description">Description</label>
          <input id="key-description" name="description" type="text" maxlength={256} placeholder="office resolver" />
        </div>
        <button type="submit" class="primary">
          Create DNS key
        </button>
      </PostForm>
      <SecretsTable c={c} label="DNS keys" secrets={keys} revokeOp="revoke-dns-key" />
    </>,
  );
}

/** The form's fields checked with the API's own schema; a problem is one message naming the field. */
function checked<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ApiError(
    "invalid",
    fieldErrors(parsed.error)
      .map((d) => `${d.path.slice(1)} ${d.errors.join("; ")}`)
      .join(". "),
  );
}

/** `/ui/:cluster/tokens`: agent join tokens (with the command to start an agent) and DNS keys (with their DoH URL). */
export const tokensPage = new Hono<UiEnv>()
  .get("/", (c) => showTokens(c))
  .post("/", checkForm, async (c) => {
    const op = await formField(c, "op");
    const db = c.get("db");
    const [clusterId, userId] = [c.get("cluster").id, c.get("user").id];
    const description = (await formField(c, "description")).trim() || undefined;
    try {
      if (op === "create-agent-token") {
        const expiry = await formField(c, "expiresInSeconds");
        const input = checked(NewAgentToken, { description, expiresInSeconds: expiry === "" ? undefined : Number(expiry) });
        const created = await createAgentToken(c.env, db, clusterId, userId, input);
        return showTokens(c, { kind: "join", token: created.secret });
      }
      if (op === "create-dns-key") {
        const created = await createDnsKey(c.env, db, clusterId, userId, checked(NewDnsKey, { description }));
        return showTokens(c, { kind: "dns", key: created.secret, url: dohUrl(c.req.url, created.secret) });
      }
      if (op === "revoke-agent-token" || op === "revoke-dns-key") {
        const revoke =
          op === "revoke-agent-token"
            ? (id: string) => revokeAgentToken(c.env, db, clusterId, userId, id)
            : (id: string) => revokeDnsKey(db, clusterId, userId, id);
        const info = await revoke(await formField(c, "id"));
        return redirectWithFlash(c, `/ui/${clusterId}/tokens`, { kind: "ok", text: `Revoked ${info.description || info.id}.` });
      }
      throw new ApiError("malformed", `Unknown action '${op.slice(0, 40)}'.`);
    } catch (err) {
      if (!(err instanceof ApiError) || err.code === "internal") throw err;
      return showTokens(c, undefined, err.message);
    }
  });
