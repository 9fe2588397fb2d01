/**
 * What a benchmark started, stopped in reverse order on the way out: at the end of a run, on
 * an error, and on Ctrl-C / SIGTERM. Each step runs once.
 */
type Step = { name: string; fn: () => Promise<unknown> | unknown };

const steps: Step[] = [];
let running: Promise<void> | undefined;

/** Registers a cleanup step; returns a function that runs it now (and unregisters it). */
export function onCleanup(name: string, fn: () => Promise<unknown> | unknown): () => Promise<void> {
  const step: Step = { name, fn };
  steps.push(step);
  return async () => {
    const i = steps.indexOf(step);
    if (i < 0) return;
    steps.splice(i, 1);
    await runStep(step);
  };
}

async function runStep(step: Step): Promise<void> {
  try {
    await step.fn();
  } catch (err) {
    process.stderr.write(`cleanup '${step.name}' failed: ${String(err)}\n`);
  }
}

/** Runs every registered step, last registered first. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (steps.length > 0) {
      const step = steps.pop() as Step;
      await runStep(step);
    }
    running = undefined;
  })();
  return running;
}

let installed = false;

/** Ctrl-C and SIGTERM stop everything started, then exit 130 / 143. */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping what the benchmark started...\n`);
      const force = setTimeout(() => process.exit(code), 15_000);
      void cleanupAll().finally(() => {
        clearTimeout(force);
        process.exit(code);
      });
    });
  }
}
