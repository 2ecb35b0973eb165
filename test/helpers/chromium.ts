import fs from "node:fs";
import { type Browser, chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

/**
 * Skips a browser test where Chromium is missing, except under CI, where a missing browser must
 * fail the run rather than hide the page it was to check.
 */
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
