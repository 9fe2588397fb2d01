/**
 * DNS for a DCX cluster: Mesos-DNS and DC/OS names built from live state (zone), answered
 * (resolve), carried over DoH (wire, json), and exposed as the Mesos-DNS HTTP API (http-api).
 * Everything here is pure; the Worker and the Cluster object do the I/O.
 */
export * from "./names.ts";
export * from "./records.ts";
export * from "./zone.ts";
export * from "./resolve.ts";
export * from "./wire.ts";
export * from "./json.ts";
export * from "./http-api.ts";
export * from "./snapshot.ts";
export * from "./answer-cache.ts";
