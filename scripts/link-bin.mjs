// Makes the built CLI runnable as node_modules/.bin/docbatch inside this repository too (npm links
// the bins of dependencies, not the package's own), so scripts and checks can call it by path.
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const target = path.join(root, "dist", "cli", "main.js");
fs.chmodSync(target, 0o755);
const binDir = path.join(root, "node_modules", ".bin");
if (fs.existsSync(path.join(root, "node_modules"))) {
  fs.mkdirSync(binDir, { recursive: true });
  const link = path.join(binDir, "docbatch");
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.relative(binDir, target), link);
}
