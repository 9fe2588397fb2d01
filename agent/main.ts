/**
 * Entry of the DCX agent: `bun agent/main.ts --master URL --cluster ID --token TOKEN --work-dir DIR`.
 * Kept thin: options in, Agent out, exit code back; `dcx agent run` reuses the same pieces.
 */
import { Agent, ExitCode } from "./agent.ts";
import { ConfigError, USAGE, parseAgentConfig, wantsHelp } from "./config.ts";

export { parseAgentConfig } from "./config.ts";

/** Hard limit on shutting down, in case closing the socket hangs; killing tasks adds their grace. */
const SHUTDOWN_DEADLINE_MS = 1_000;

/**
 * Runs the agent for these arguments and environment; resolves with the process exit code.
 * `program` is how the usage text names the command (`dcx agent run` inside the CLI).
 */
export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, program = "bun agent/main.ts"): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE.replace("bun agent/main.ts", program));
    return ExitCode.OK;
  }
  let agent: Agent;
  try {
    agent = Agent.create(parseAgentConfig(argv, env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`dcx-agent: ${error.message}\nRun with --help for usage.\n`);
    return ExitCode.USAGE;
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      setTimeout(() => process.exit(ExitCode.OK), SHUTDOWN_DEADLINE_MS + agent.shutdownBudgetMs()).unref();
      void agent.stop(signal);
    });
  }
  return (await agent.run()).code;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2), process.env));
