import type { ProxyCredit, ProxyEnd, ProxyHead, ProxyReset } from "../../../protocol/index.ts";
import { ERRORS } from "../../errors.ts";
import type { ProxyCall, ServiceProxy } from "./service-proxy.ts";
import type { AgentLink } from "../sessions.ts";
import type { ProxyTunnel } from "./tunnel.ts";

/**
 * The header the Worker puts a proxied WebSocket upgrade's call in (JSON of a ProxyCall). The
 * Worker builds the upgrade request it forwards from scratch, so a client cannot set it.
 */
export const PROXY_CALL_HEADER = "x-dcx-proxy-call";

/** Hands one of the agent's proxy frames to the tunnel. */
export function proxyAgentFrame(tunnel: ProxyTunnel, ws: AgentLink, msg: ProxyHead | ProxyCredit | ProxyEnd | ProxyReset): void {
  if (msg.type === "proxyHead") tunnel.head(ws, msg);
  else if (msg.type === "proxyCredit") tunnel.credit(ws, msg.sid, msg.bytes);
  else if (msg.type === "proxyEnd") tunnel.end(ws, msg);
  else tunnel.agentReset(ws, msg);
}

/**
 * A client's WebSocket upgrade through the proxy: the task's WebSocket is opened first, through
 * its agent, and only when the task accepts is the client's socket accepted, here in the object
 * (not hibernated: it lives as long as the task's, and its frames are relayed at once). A task
 * that refuses the upgrade answers the client with its own status and body.
 */
export async function upgradeProxied(headers: Headers, proxy: ServiceProxy, tunnel: ProxyTunnel): Promise<Response> {
  const call = JSON.parse(headers.get(PROXY_CALL_HEADER) ?? "{}") as ProxyCall;
  const answer = await proxy.request(call, null);
  if (!answer.ok) return Response.json({ message: answer.message }, { status: ERRORS[answer.code] });
  if (answer.status !== 101) return new Response(answer.body, { status: answer.status, headers: answer.headers });
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  tunnel.attach(answer.sid, server);
  const upgraded = new Headers();
  if (answer.protocol) upgraded.set("Sec-WebSocket-Protocol", answer.protocol);
  return new Response(null, { status: 101, webSocket: client, headers: upgraded });
}
