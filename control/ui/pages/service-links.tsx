import type { AppInfo } from "../context.ts";

/** The label that opts an app into public ingress (control/cluster/service-proxy/routing.ts). */
const PUBLIC_INGRESS_LABEL = "DCX_PUBLIC_INGRESS";

/**
 * Where an app's web interface answers through the service proxy, as the DC/OS UI's "Open
 * Service" does: at its `DCOS_SERVICE_NAME`, else at its id when it declares a port; and at
 * its public URL when it is labelled for public ingress. None for an app without a port or a
 * name, which has no interface to open.
 */
export function serviceLinks(clusterId: string, app: Pick<AppInfo, "id" | "labels" | "portDefinitions" | "container">): { label: string; href: string }[] {
  const labels = app.labels ?? {};
  const named = labels.DCOS_SERVICE_NAME?.replace(/^\/+|\/+$/g, "");
  const hasPort = (app.portDefinitions?.length ?? 0) > 0 || (app.container?.portMappings?.length ?? 0) > 0;
  if (!named && !hasPort) return [];
  const name = named || app.id.replace(/^\/+/, "");
  const path = name.split("/").map(encodeURIComponent).join("/");
  const links = [{ label: "Open service", href: `/c/${clusterId}/service/${path}/` }];
  if (labels[PUBLIC_INGRESS_LABEL]?.toLowerCase() === "true") links.push({ label: "Public URL", href: `/public/${clusterId}/${path}/` });
  return links;
}

/** The app's links, opened in a new tab: the service's own pages are not the DCX UI's. */
export function ServiceLinks(props: { clusterId: string; app: Pick<AppInfo, "id" | "labels" | "portDefinitions" | "container"> }) {
  const links = serviceLinks(props.clusterId, props.app);
  if (links.length === 0) return null;
  return (
    <span class="service-links">
      {links.map((l) => (
        <a href={l.href} target="_blank" rel="noopener noreferrer">
          {l.label}
        </a>
      ))}
    </span>
  );
}
