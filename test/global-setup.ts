import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Many tests run the built CLI (dist/cli/main.js) or load compiled threads from dist/, as users
 * do. `npm test` builds first; a test file run alone (`npx vitest run test/...`) would otherwise
 * run against whatever dist/ an earlier build left. So: when any source is newer than the build,
 * build again before the tests start. A fresh build costs one directory walk.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = ["src", "scripts", "package.json", "tsconfig.json", "tsconfig.build.json"];
const OUTPUTS = ["dist/cli/main.js", "dist/cli/cli.bundle.js", "dist/index.js", "dist/dashboard/client.js"];

export default function setup(): void {
  const built = oldestOutput();
  const changed = newestSource();
  if (built !== null && changed <= built) return;
  process.stderr.write(
    built === null ? "dist/ is missing: building it\n" : "src/ is newer than dist/: building it again\n",
  );
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
}

/** When the last build ended: the oldest of its main outputs, null if one is missing. */
function oldestOutput(): number | null {
  let oldest = Number.POSITIVE_INFINITY;
  for (const file of OUTPUTS) {
    const stat = fs.statSync(path.join(ROOT, file), { throwIfNoEntry: false });
    if (!stat) return null;
    oldest = Math.min(oldest, stat.mtimeMs);
  }
  return oldest;
}

function newestSource(): number {
  let newest = 0;
  const visit = (file: string) => {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return;
    newest = Math.max(newest, stat.mtimeMs);
    if (stat.isDirectory()) for (const name of fs.readdirSync(file)) visit(path.join(file, name));
  };
  for (const entry of SOURCES) visit(path.join(ROOT, entry));
  return newest;
}
