import { describe, expect, test } from "bun:test";
import { isAbsolute } from "node:path";
import { ConfigError, DEFAULT_BACKOFF_MAX_MS, wantsHelp } from "./config.ts";
import { parseAgentConfig } from "./main.ts";
import { DEFAULT_POLICY } from "./policy.ts";

const REQUIRED = ["--master", "http://127.0.0.1:8787", "--cluster", "c1", "--work-dir", "/tmp/dcx-agent"];

/** The ConfigError `run` throws; fails the test when it throws nothing or something else. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("parseAgentConfig", () => {
  test("reads every flag", () => {
    const config = parseAgentConfig(
      [
        ...["--master", "https://dcx.example.com/"],
        ...["--cluster", "prod-1", "--token", "join_abc", "--work-dir", "relative/dir"],
        ...["--resources", "cpus:2;mem:1024;ports:[31000-31010,32000-32001]"],
        ...["--attributes", "rack:r1;zone:a;weight:3"],
        ...["--hostname", "node-7.example.com", "--advertise-ip", "10.0.0.7", "--backoff-max-ms", "5000"],
        "--kill-tasks-on-exit",
        "--public",
      ],
      {},
    );
    expect(config).toEqual({
      master: "https://dcx.example.com",
      cluster: "prod-1",
      token: "join_abc",
      workDir: expect.stringMatching(/\/relative\/dir$/),
      resources: {
        cpus: 2,
        mem: 1024,
        ports: [
          [31000, 31010],
          [32000, 32001],
        ],
      },
      attributes: { rack: "r1", zone: "a", weight: 3 },
      public: true,
      hostname: "node-7.example.com",
      advertiseIp: "10.0.0.7",
      backoffMaxMs: 5000,
      killTasksOnExit: true,
      dockerSocket: "/var/run/docker.sock",
      vipMode: "auto",
      vipRanges: ["127.0.0.0/8", "11.0.0.0/8"],
      policy: DEFAULT_POLICY,
    });
    expect(isAbsolute(config.workDir)).toBe(true);
  });

  test("reads every DCX_* environment variable", () => {
    const config = parseAgentConfig([], {
      DCX_MASTER: "ws://127.0.0.1:9000",
      DCX_CLUSTER: "c2",
      DCX_TOKEN: "join_env",
      DCX_WORK_DIR: "/var/lib/dcx",
      DCX_RESOURCES: "disk:100",
      DCX_ATTRIBUTES: "zone:b",
      DCX_HOSTNAME: "envhost",
      DCX_ADVERTISE_IP: "::1",
      DCX_BACKOFF_MAX_MS: "750",
      DCX_KILL_TASKS_ON_EXIT: "1",
      DCX_PUBLIC: "yes",
    });
    expect(config).toEqual({
      master: "ws://127.0.0.1:9000",
      cluster: "c2",
      token: "join_env",
      workDir: "/var/lib/dcx",
      resources: { disk: 100 },
      attributes: { zone: "b" },
      public: true,
      hostname: "envhost",
      advertiseIp: "::1",
      backoffMaxMs: 750,
      killTasksOnExit: true,
      dns: undefined,
      dockerSocket: "/var/run/docker.sock",
      vipMode: "auto",
      vipRanges: ["127.0.0.0/8", "11.0.0.0/8"],
      policy: DEFAULT_POLICY,
    });
  });

  test("a flag wins over its environment variable", () => {
    const config = parseAgentConfig([...REQUIRED, "--token", "from-flag", "--backoff-max-ms", "100"], {
      DCX_MASTER: "http://other:1",
      DCX_CLUSTER: "other",
      DCX_TOKEN: "from-env",
      DCX_BACKOFF_MAX_MS: "9999",
    });
    expect(config.master).toBe("http://127.0.0.1:8787");
    expect(config.cluster).toBe("c1");
    expect(config.token).toBe("from-flag");
    expect(config.backoffMaxMs).toBe(100);
  });

  test("defaults: no token, nothing overridden, 30 s backoff cap; empty variables count as unset", () => {
    const config = parseAgentConfig(REQUIRED, { DCX_TOKEN: "", DCX_RESOURCES: "" });
    expect(config.token).toBeUndefined();
    expect(config.resources).toEqual({});
    expect(config.attributes).toEqual({});
    expect(config.hostname).toBeUndefined();
    expect(config.advertiseIp).toBeUndefined();
    expect(config.backoffMaxMs).toBe(DEFAULT_BACKOFF_MAX_MS);
    expect(config.killTasksOnExit).toBe(false);
  });

  test("--docker-socket: the default socket, a path resolved like --work-dir, or none to turn the docker driver off", () => {
    expect(parseAgentConfig(REQUIRED, {}).dockerSocket).toBe("/var/run/docker.sock");
    expect(parseAgentConfig([...REQUIRED, "--docker-socket", "run/podman.sock"], {}).dockerSocket).toMatch(/^\/.*\/run\/podman\.sock$/);
    expect(parseAgentConfig(REQUIRED, { DCX_DOCKER_SOCKET: "none" }).dockerSocket).toBeUndefined();
    const error = configError(() => parseAgentConfig([...REQUIRED, "--docker-socket", " "], {}));
    expect(error.flag).toBe("--docker-socket");
  });

  test("--vip-mode: auto by default, kernel or userspace, anything else refused naming the flag", () => {
    expect(parseAgentConfig(REQUIRED, {}).vipMode).toBe("auto");
    expect(parseAgentConfig([...REQUIRED, "--vip-mode", "kernel"], {}).vipMode).toBe("kernel");
    expect(parseAgentConfig(REQUIRED, { DCX_VIP_MODE: "userspace" }).vipMode).toBe("userspace");
    const error = configError(() => parseAgentConfig([...REQUIRED, "--vip-mode", "ipvs"], {}));
    expect(error.flag).toBe("--vip-mode");
    expect(error.message).toBe("--vip-mode: expected one of auto, kernel, userspace");
  });

  test("--vip-ranges: loopback and 11.0.0.0/8 by default, a CIDR list, anything else refused naming the flag", () => {
    expect(parseAgentConfig(REQUIRED, {}).vipRanges).toEqual(["127.0.0.0/8", "11.0.0.0/8"]);
    expect(parseAgentConfig([...REQUIRED, "--vip-ranges", "127.0.0.0/8, 10.200.0.0/16"], {}).vipRanges).toEqual(["127.0.0.0/8", "10.200.0.0/16"]);
    expect(parseAgentConfig(REQUIRED, { DCX_VIP_RANGES: "11.0.0.0/8" }).vipRanges).toEqual(["11.0.0.0/8"]);
    const error = configError(() => parseAgentConfig([...REQUIRED, "--vip-ranges", "127.0.0.0/8,10.0.0.1/8"], {}));
    expect(error.flag).toBe("--vip-ranges");
    expect(error.message).toContain("'10.0.0.1/8' is not an IPv4 CIDR block");
  });

  test("DCX_KILL_TASKS_ON_EXIT takes 1/true/yes and 0/false/no, and refuses anything else naming the flag", () => {
    expect(parseAgentConfig(REQUIRED, { DCX_KILL_TASKS_ON_EXIT: "TRUE" }).killTasksOnExit).toBe(true);
    expect(parseAgentConfig(REQUIRED, { DCX_KILL_TASKS_ON_EXIT: "no" }).killTasksOnExit).toBe(false);
    const error = configError(() => parseAgentConfig(REQUIRED, { DCX_KILL_TASKS_ON_EXIT: "maybe" }));
    expect(error.flag).toBe("--kill-tasks-on-exit");
    expect(error.message).toContain("DCX_KILL_TASKS_ON_EXIT");
  });

  const without = (flag: string) => {
    const args = [...REQUIRED];
    args.splice(args.indexOf(flag), 2);
    return args;
  };

  test.each([
    ["--master", without("--master")],
    ["--cluster", without("--cluster")],
    ["--work-dir", without("--work-dir")],
  ])("a missing %s is named, with its variable", (flag, args) => {
    const error = configError(() => parseAgentConfig(args, {}));
    expect(error.flag).toBe(flag);
    expect(error.message).toContain(flag);
    expect(error.message).toContain("DCX_");
  });

  test.each([
    ["--master", "not a url"],
    ["--master", "ftp://example.com"],
    ["--master", "http://example.com/?x=1"],
    ["--master", "  "],
    ["--cluster", "a/b"],
    ["--token", "has space"],
    ["--resources", "cpus:x"],
    ["--resources", "gpu:1"],
    ["--resources", "ports:[2-1]"],
    ["--resources", "cpus:200000"],
    ["--resources", "cpus"],
    ["--attributes", "rack"],
    ["--attributes", "bad name:1"],
    ["--hostname", "bad host"],
    ["--advertise-ip", "999.1.1.1"],
    ["--advertise-ip", "example.com"],
    ["--backoff-max-ms", "0"],
    ["--backoff-max-ms", "1.5"],
    ["--backoff-max-ms", "soon"],
  ])("%s %p is refused, naming the flag", (flag, value) => {
    const args = [...REQUIRED.filter((_, i) => REQUIRED[i - (i % 2)] !== flag), flag, value];
    const error = configError(() => parseAgentConfig(args, {}));
    expect(error.flag).toBe(flag);
    expect(error.message.startsWith(`${flag}:`)).toBe(true);
  });

  test("the DNS forwarder is off by default, and --dns-* options mean nothing without --dns-listen", () => {
    expect(parseAgentConfig(REQUIRED, {}).dns).toBeUndefined();
    expect(parseAgentConfig([...REQUIRED, "--dns-zone", "cluster.local"], {}).dns).toBeUndefined();
  });

  test("--dns-listen alone: zones mesos and thisdcos.directory, the control plane's DoH endpoint, /etc/resolv.conf", () => {
    expect(parseAgentConfig([...REQUIRED, "--dns-listen", "127.0.0.1:5353"], {}).dns).toEqual({
      listen: { host: "127.0.0.1", port: 5353 },
      zones: ["mesos", "thisdcos.directory"],
      upstream: undefined,
      resolvConf: "/etc/resolv.conf",
    });
  });

  test("every --dns-* flag, and the DCX_DNS_* variables", () => {
    const flags = [
      ...["--dns-listen", "[::1]:53", "--dns-zone", "Cluster.Local.,mesos", "--dns-upstream", "https://dcx.example.com/dns/KEY/dns-query"],
      ...["--dns-resolv-conf", "/run/systemd/resolve/resolv.conf"],
    ];
    expect(parseAgentConfig([...REQUIRED, ...flags], {}).dns).toEqual({
      listen: { host: "::1", port: 53 },
      zones: ["cluster.local", "mesos", "thisdcos.directory"],
      upstream: "https://dcx.example.com/dns/KEY/dns-query",
      resolvConf: "/run/systemd/resolve/resolv.conf",
    });
    const fromEnv = parseAgentConfig(REQUIRED, {
      DCX_DNS_LISTEN: "0.0.0.0:5353",
      DCX_DNS_ZONE: "dcx",
      DCX_DNS_UPSTREAM: "http://127.0.0.1:9/x",
      DCX_DNS_RESOLV_CONF: "/tmp/resolv.conf",
    }).dns;
    expect(fromEnv).toEqual({
      listen: { host: "0.0.0.0", port: 5353 },
      zones: ["dcx", "thisdcos.directory"],
      upstream: "http://127.0.0.1:9/x",
      resolvConf: "/tmp/resolv.conf",
    });
  });

  test.each([
    ["--dns-listen", "localhost:53"],
    ["--dns-listen", "127.0.0.1"],
    ["--dns-listen", "::1:53"],
    ["--dns-listen", "127.0.0.1:65536"],
    ["--dns-zone", "bad zone"],
    ["--dns-zone", "mesos,"],
    ["--dns-upstream", "ftp://example.com/dns-query"],
    ["--dns-upstream", "not a url"],
  ])("%s %p is refused, naming the flag", (flag, value) => {
    const args = [...REQUIRED, "--dns-listen", "127.0.0.1:5353", flag, value];
    const error = configError(() => parseAgentConfig(args, {}));
    expect(error.flag).toBe(flag);
    expect(error.message.startsWith(`${flag}:`)).toBe(true);
  });

  test("a DoH key in a refused --dns-upstream is not echoed", () => {
    const error = configError(() => parseAgentConfig([...REQUIRED, "--dns-listen", "127.0.0.1:53", "--dns-upstream", "gopher://h/dns/s3cr3t/dns-query"], {}));
    expect(error.message).not.toContain("s3cr3t");
  });

  test("a bad value from the environment names both the flag and the variable", () => {
    const error = configError(() => parseAgentConfig(without("--master"), { DCX_MASTER: "gopher://x" }));
    expect(error.message).toContain("--master (DCX_MASTER)");
  });

  test("the token never appears in an error message", () => {
    const error = configError(() => parseAgentConfig([...REQUIRED, "--token", "secret value"], {}));
    expect(error.message).toContain("--token");
    expect(error.message).not.toContain("secret");
  });

  test("a plain http or ws master that is not loopback is refused, naming --insecure; loopback and TLS are fine", () => {
    for (const master of ["http://dcx.example.com", "ws://10.0.0.5:8787", "http://192.168.1.2", "http://[2001:db8::1]:80", "http://127.example.com"]) {
      const error = configError(() => parseAgentConfig(["--master", master, ...REQUIRED.slice(2)], {}));
      expect(error.flag).toBe("--master");
      expect(error.message).toContain("--insecure");
      expect(error.message).toContain("plain text");
    }
    for (const master of [
      "http://127.0.0.1:8787",
      "ws://127.8.9.10",
      "http://localhost:8787",
      "http://[::1]:8787",
      "https://dcx.example.com",
      "wss://10.0.0.5",
    ]) {
      expect(parseAgentConfig(["--master", master, ...REQUIRED.slice(2)], {}).master).toBe(new URL(master).href.replace(/\/$/, ""));
    }
    expect(parseAgentConfig(["--master", "http://dcx.example.com", ...REQUIRED.slice(2), "--insecure"], {}).master).toBe("http://dcx.example.com");
    expect(parseAgentConfig(without("--master"), { DCX_MASTER: "ws://10.0.0.5", DCX_INSECURE: "yes" }).master).toBe("ws://10.0.0.5");
  });

  test("the task policy allows nothing by default; each --allow-* flag and its variable widen it", () => {
    expect(parseAgentConfig(REQUIRED, {}).policy).toEqual({
      allowPrivileged: false,
      allowHostPaths: [],
      allowCapabilities: [],
      allowDevices: [],
      allowRootTasks: false,
      taskUser: "nobody",
    });
    const flags = [
      ...["--allow-privileged", "--allow-root-tasks", "--allow-host-paths", "/srv/data/,/mnt//shared"],
      ...["--allow-capabilities", "net_admin,CAP_SYS_TIME", "--allow-devices", "/dev/fuse", "--task-user", "dcx-task"],
    ];
    expect(parseAgentConfig([...REQUIRED, ...flags], {}).policy).toEqual({
      allowPrivileged: true,
      allowHostPaths: ["/srv/data/", "/mnt/shared"],
      allowCapabilities: ["NET_ADMIN", "SYS_TIME"],
      allowDevices: ["/dev/fuse"],
      allowRootTasks: true,
      taskUser: "dcx-task",
    });
    const env = {
      DCX_ALLOW_PRIVILEGED: "1",
      DCX_ALLOW_ROOT_TASKS: "true",
      DCX_ALLOW_HOST_PATHS: "/srv",
      DCX_ALLOW_CAPABILITIES: "ALL",
      DCX_ALLOW_DEVICES: "/dev/net/tun",
      DCX_TASK_USER: "daemon",
    };
    expect(parseAgentConfig(REQUIRED, env).policy).toEqual({
      allowPrivileged: true,
      allowHostPaths: ["/srv"],
      allowCapabilities: ["ALL"],
      allowDevices: ["/dev/net/tun"],
      allowRootTasks: true,
      taskUser: "daemon",
    });
  });

  test("bad --allow-* values are refused by name: relative paths, .. segments, capability and user names", () => {
    expect(configError(() => parseAgentConfig([...REQUIRED, "--allow-host-paths", "srv/data"], {})).flag).toBe("--allow-host-paths");
    expect(configError(() => parseAgentConfig([...REQUIRED, "--allow-host-paths", "/srv/../etc"], {})).message).toContain(
      "'/srv/../etc' must be an absolute path",
    );
    expect(configError(() => parseAgentConfig([...REQUIRED, "--allow-devices", "fuse"], {})).flag).toBe("--allow-devices");
    expect(configError(() => parseAgentConfig([...REQUIRED, "--allow-capabilities", "NET ADMIN"], {})).flag).toBe("--allow-capabilities");
    expect(configError(() => parseAgentConfig(REQUIRED, { DCX_TASK_USER: "-rf" })).message).toContain("--task-user (DCX_TASK_USER)");
    expect(configError(() => parseAgentConfig(REQUIRED, { DCX_ALLOW_PRIVILEGED: "maybe" })).flag).toBe("--allow-privileged");
  });

  test("an agent is private unless --public or DCX_PUBLIC says otherwise", () => {
    expect(parseAgentConfig(REQUIRED, {}).public).toBe(false);
    expect(parseAgentConfig(REQUIRED, { DCX_PUBLIC: "0" }).public).toBe(false);
    expect(parseAgentConfig([...REQUIRED, "--public"], { DCX_PUBLIC: "false" }).public).toBe(true);
    expect(configError(() => parseAgentConfig(REQUIRED, { DCX_PUBLIC: "sometimes" })).flag).toBe("--public");
  });

  test("unknown flags, stray arguments and flags without a value are refused by name", () => {
    expect(configError(() => parseAgentConfig([...REQUIRED, "--bogus"], {})).message).toContain("--bogus");
    expect(configError(() => parseAgentConfig([...REQUIRED, "stray"], {})).message).toContain("stray");
    expect(configError(() => parseAgentConfig([...REQUIRED, "--token"], {})).message).toContain("--token");
  });
});

describe("wantsHelp", () => {
  test("spots --help and -h anywhere, and nothing else", () => {
    expect(wantsHelp(["--master", "x", "--help"])).toBe(true);
    expect(wantsHelp(["-h"])).toBe(true);
    expect(wantsHelp(REQUIRED)).toBe(false);
  });
});
