import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ROOT, toolEnv } from "../../scripts/lib/control-plane.ts";
import { type Child, startChild } from "../../scripts/lib/processes.ts";

/** Debian's Chromium (`apt-get install chromium`), driven by playwright-core. */
export const CHROMIUM = "/usr/bin/chromium";
export const SCREENSHOTS = join(ROOT, "test-artifacts", "ui");

/** The two widths every page is checked and photographed at. */
export const VIEWPORTS = {
  laptop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

/** A headless Chromium with a fresh profile, and nothing of its own on the network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/**
 * What pages did that they should not have: requests to any other origin, scripts or styles
 * that failed to load, and console errors or uncaught exceptions (a script or style refused by
 * the content security policy shows up there). Error statuses of pages themselves (a 422 form,
 * a 404 route) are answers, not problems, and the browser's note about them is left out.
 */
export class Recorder {
  readonly foreignRequests: string[] = [];
  readonly failedAssets: string[] = [];
  readonly problems: string[] = [];

  constructor(context: BrowserContext, origin: string) {
    context.on("request", (req) => {
      const url = req.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith("data:")) this.foreignRequests.push(url);
    });
    context.on("response", (res) => {
      if (res.url().startsWith(`${origin}/assets/`) && res.status() >= 400) this.failedAssets.push(`${res.status()} ${res.url()}`);
    });
    context.on("console", (msg) => {
      if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) this.problems.push(`${msg.text()} (${msg.location().url})`);
    });
    context.on("weberror", (err) => this.problems.push(`uncaught: ${err.error().message}`));
  }
}

/**
 * Photographs the page at laptop and phone width into test-artifacts/ui/, and checks that at
 * phone width nothing makes the whole page scroll sideways (wide tables scroll in their own box).
 */
export async function photograph(page: Page, name: string): Promise<{ overflow: number }> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  let overflow = 0;
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    if (label === "phone") overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.laptop);
  return { overflow };
}

/** Splits the agent command the Tokens page shows into npm's arguments, with the work dir swapped for a test one. */
export function agentArgs(command: string, workDir: string): string[] {
  const words = command.trim().split(/\s+/);
  if (words.slice(0, 4).join(" ") !== "npm run agent --") throw new Error(`not an agent command: ${command}`);
  const args = words.slice(4);
  const at = args.indexOf("--work-dir");
  if (at < 0 || at + 1 >= args.length) throw new Error(`no --work-dir in: ${command}`);
  args[at + 1] = workDir;
  return args;
}

/** Runs `npm run agent -- ARGS` from the checkout, as a user would; it kills its tasks when stopped. */
export function runAgentCommand(args: string[]): Child & { events: Record<string, unknown>[] } {
  const events: Record<string, unknown>[] = [];
  const child = startChild("npm", ["run", "--silent", "agent", "--", ...args, "--kill-tasks-on-exit"], {
    cwd: ROOT,
    env: toolEnv(),
    onLine: (line) => {
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // npm's own lines, or a stack trace: kept in output().
      }
    },
  });
  return { ...child, events };
}
