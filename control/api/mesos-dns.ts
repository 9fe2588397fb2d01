import { Hono, type Context } from "hono";
import { DnsSettings } from "../contract/accounts.ts";
import { versionInfo } from "../dns/index.ts";
import type { AppEnv } from "../http/env.ts";
import { jsonBody } from "../http/middleware.ts";
import { clusterStub } from "../cluster-stub.ts";
import { unwrap } from "../operations/outcome.ts";
import { acting } from "./marathon/outcome.ts";
import { DCX_VERSION } from "./mesos-json.ts";

const stub = (c: Context<AppEnv>) => clusterStub(c.env, c.get("cluster").id);
const host = (c: Context<AppEnv>) => new URL(c.req.url).hostname;
const resolvers = (c: Context<AppEnv>) => {
  const upstream: string = c.env.DNS_UPSTREAM;
  return upstream === "off" ? [] : [upstream];
};

/** Mesos-DNS's HTTP API (`/v1/...`), as DC/OS's Admin Router serves it at `/mesos_dns/v1/...`. */
export const mesosDnsRoutes = new Hono<AppEnv>()
  .get("/version", (c) => c.json(versionInfo(DCX_VERSION, "https://github.com/dcx/dcx")))
  .get("/config", async (c) => c.json(await stub(c).mesosDns("config", "", host(c), resolvers(c))))
  .get("/hosts/:host/ports", async (c) => c.json(await stub(c).mesosDns("ports", c.req.param("host"), host(c), [])))
  .get("/hosts/:host", async (c) => c.json(await stub(c).mesosDns("hosts", c.req.param("host"), host(c), [])))
  .get("/services/:service", async (c) => c.json(await stub(c).mesosDns("services", c.req.param("service"), host(c), [])))
  .get("/enumerate", async (c) => c.json(await stub(c).mesosDns("enumerate", "", host(c), [])));

/** `/c/:cluster/dns`: the cluster's zone (default `mesos`), TTL (default 5 s) and VIP range (default 127.11.0.0/16). */
export const dnsSettingsRoutes = new Hono<AppEnv>()
  .get("/", async (c) => c.json(await stub(c).dnsSettings()))
  .patch("/", jsonBody(DnsSettings), async (c) => c.json(unwrap(await acting(c).setDnsSettings(c.req.valid("json")))));
