import { Hono } from "hono";
import { PROMETHEUS_CONTENT_TYPE, renderExposition, type MetricFamily } from "../../protocol/prometheus.ts";
import type { AppEnv } from "../http/env.ts";
import { clusterStub } from "../cluster-stub.ts";
import { reportDnsQueries } from "../dns/edge.ts";
import { DCX_VERSION } from "./mesos-json.ts";

const buildInfo: MetricFamily = {
  name: "dcx_build_info",
  help: "The control plane's version; always 1.",
  type: "gauge",
  samples: [{ labels: { version: DCX_VERSION }, value: 1 }],
};

/**
 * `/c/:cluster/metrics/prometheus`: the cluster's metrics in Prometheus's text format, for a
 * scrape job that authenticates with an API token (`authorization: {credentials: TOKEN}`).
 * `/c/:cluster/metrics` itself is Marathon's JSON shape, hence the longer path.
 */
export const prometheusRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const clusterId = c.get("cluster").id;
  // This isolate's DNS counts go in first, so a scrape through it is exact for what it answered.
  await reportDnsQueries(c.env, clusterId);
  const families = await clusterStub(c.env, clusterId).metricFamilies();
  return c.body(renderExposition([buildInfo, ...families]), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE, "Cache-Control": "no-store" });
});
