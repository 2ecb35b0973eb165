import fs from "node:fs";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { type RunningServer, type ServeOptions, startServer } from "../../src/server/serve.js";
import type { Store } from "../../src/store/store.js";

const CHROMIUM = "/usr/bin/chromium";

/**
 * Skips a browser test where Chromium is missing, except under CI, where a missing browser must
 * fail the run rather than hide the page it was to check.
 */
/**
 * The server a dashboard test opens in the browser: any free port, the test's token, a spool in
 * `dir`, progress events every 200 ms; `options` adds the test's own.
 */
export function startDashboardServer(
  dir: string,
  store: Store,
  token: string,
  options: Partial<ServeOptions> = {},
): Promise<RunningServer> {
  return startServer({
    store,
    port: 0,
    token,
    spoolDir: path.join(dir, "spool"),
    eventIntervalMs: 200,
    ...options,
  });
}

export function requireChromium(what: string, skip: (note: string) => void): void {
  if (fs.existsSync(CHROMIUM)) return;
  const why = `Chromium is not installed at ${CHROMIUM}, so ${what} cannot be checked in a browser`;
  if (process.env.CI) throw new Error(`${why}; CI must provide it (apt-get install chromium).`);
  skip(`${why}; skipped outside CI.`);
}

/** A headless Chromium that reaches nothing by itself: no updates, sync or background requests. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A page that may load only what `allowed` accepts: everything else is aborted and listed in
 * `blocked`; console errors, uncaught exceptions and dialogs are listed in `errors`.
 */
export async function guardedPage(
  browser: Browser,
  allowed: (url: string) => boolean,
): Promise<{ page: Page; blocked: string[]; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const blocked: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (allowed(url)) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return { page, blocked, errors };
}

/** Nothing in the page is wider than the 1280 px viewport. */
export async function assertNoLayoutOverflow(page: Page): Promise<void> {
  const width = await page.locator("body").evaluate((body) => body.scrollWidth as number);
  expect(width).toBeLessThanOrEqual(1280);
}
