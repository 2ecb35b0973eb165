import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the package's own files are, from whichever file this code runs in: this module in `dist/`
 * (or `src/`), or a chunk of the CLI's bundle (`dist/chunks/`, see scripts/bundle.mjs). Both sit one
 * level under the same root, so paths relative to that root hold in both; only the entry files of
 * threads differ, a bundle's own ending in `.bundle.js`.
 */
const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), "..");
const BUNDLED = !/[\\/]core[\\/]own-files\.[jt]s$/.test(SELF);

/** A file of the package, by its path relative to `dist/` (`../examples/…` for one beside it). */
export function ownFile(relative: string): string {
  return path.join(ROOT, relative);
}

/**
 * The entry file of a thread, by its compiled path relative to `dist/` (`runner/input-thread.js`):
 * the bundle's entry when this code runs bundled, so that a thread loads one file, not a hundred.
 * When the sources run (tests), it does not exist, and callers run the work in-process.
 */
export function threadFile(relative: string): string {
  return path.join(ROOT, BUNDLED ? relative.replace(/\.js$/, ".bundle.js") : relative);
}
