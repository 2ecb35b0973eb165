import fs from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Headless Chromium for the dashboard's tests, or null (the test skips) when it is not installed
 * outside CI; under CI its absence fails the test.
 */
export async function launchChromium(skip: (why: string) => void): Promise<Browser | null> {
  if (!fs.existsSync(CHROMIUM)) {
    const why = `Chromium is not installed at ${CHROMIUM}, so the dashboard cannot be checked in a browser`;
    if (process.env.CI) throw new Error(`${why}; CI must provide it (apt-get install chromium).`);
    skip(`${why}; skipped outside CI.`);
    return null;
  }
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

/** Nothing in the page is wider than the 1280 px viewport. */
export async function assertNoLayoutOverflow(page: Page): Promise<void> {
  const width = await page.locator("body").evaluate((body) => body.scrollWidth as number);
  expect(width).toBeLessThanOrEqual(1280);
}
