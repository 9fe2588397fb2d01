export * from "./checks.ts";
export * from "./diagnostics.ts";
export * from "./logs.ts";
export * from "./messages.ts";
export * from "./resources.ts";
export * from "./task-state.ts";
export * from "./transport.ts";
export * from "./dns-lease.ts";
