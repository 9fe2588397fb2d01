import { Hono } from "hono";
import { NewCluster } from "../../contract/accounts.ts";
import { createClusterFor } from "../../operations/clusters.ts";
import { ApiError } from "../../errors.ts";
import { DataTable, Field, PageHeader, PostForm, Time } from "../components.tsx";
import { CLUSTERS_PATH, checkForm, formField, readFlash, redirectWithFlash, requireSession, type UiContext, type UiEnv } from "../context.ts";
import { checkFields, type FormErrors } from "../form-errors.ts";
import { renderPage } from "../layout.tsx";

function ClusterList(props: { c: UiContext }) {
  const clusters = props.c.get("clusters");
  if (clusters.length === 0) return <p class="empty">You have no cluster yet: create one below.</p>;
  return (
    <DataTable label="Your clusters" headers={["Cluster", "Id", "Role", "Created"]}>
      {clusters.map((k) => (
        <tr>
          <th scope="row">
            <a href={`/ui/${k.id}`}>{k.name}</a>
          </th>
          <td class="id">{k.id}</td>
          <td>{k.role}</td>
          <td>
            <Time iso={k.createdAt} />
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

function showClusters(c: UiContext, form: { name: string; errors: FormErrors }, status: 200 | 422 = 200) {
  return renderPage(
    c,
    { title: "Clusters", status },
    <>
      <PageHeader title="Clusters" />
      <p>Open a cluster to see its services, nodes and jobs. Each cluster has its own agents, tokens and DNS names.</p>
      <ClusterList c={c} />
      <h2 id="create-cluster-title">Create a cluster</h2>
      <PostForm action={CLUSTERS_PATH} csrf={c.get("csrf")} class="panel" label="Create a cluster">
        <Field
          name="name"
          label="Name"
          value={form.name}
          errors={form.errors.name}
          hint="Lowercase letters, digits and '-', at most 63 characters (e.g. staging)."
          autocomplete="off"
          required
        />
        <button type="submit" class="primary">
          Create cluster
        </button>
      </PostForm>
    </>,
  );
}

/** `/ui`: the user's clusters, and a form that creates one (then shows its Tokens page, to add a machine). */
export const clustersPage = new Hono<UiEnv>()
  .get("/", requireSession, readFlash, (c) => showClusters(c, { name: "", errors: {} }))
  .post("/", requireSession, checkForm, async (c) => {
    const name = (await formField(c, "name")).trim();
    const checked = checkFields(NewCluster, { name });
    if (!checked.ok) return showClusters(c, { name, errors: checked.errors }, 422);
    const created = await createClusterFor(c.env, c.get("db"), c.get("user").id, checked.value).catch((err: unknown) => {
      // A quota refusal is shown on the form, like any other reason the name cannot be used.
      if (err instanceof ApiError && err.code === "invalid") return err;
      throw err;
    });
    if (created instanceof ApiError) return showClusters(c, { name, errors: { name: [created.message] } }, 422);
    const cluster = created;
    return redirectWithFlash(c, `/ui/${cluster.id}/tokens`, {
      kind: "ok",
      text: `Created cluster '${cluster.name}'. Create an agent token below to add a machine to it.`,
    });
  });
