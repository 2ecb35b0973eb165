// Bundles the CLI and the entry files of its threads, from the compiled modules in dist/, into
// `<entry>.bundle.js` beside each entry plus shared chunks in dist/chunks/. Node's module loader
// costs a millisecond or two per module: a `docbatch run` loaded 105 of them before its first
// document (about 230 ms), and each thread its own share again; the bundle loads in about 100 ms.
// Dependencies stay outside (node_modules); modules loaded on demand stay chunks of their own, so
// a run still does not load the service or the parsers it does not need. The library entry
// (dist/index.js) is not bundled. Paths the code computes at run time go through
// src/core/own-files.ts, which holds in both layouts as long as the chunks sit one level under
// dist/, as checked below.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const ENTRIES = [
  "cli/cli",
  "runner/input-thread",
  "runner/delivery-thread",
  "pipeline/cpu-worker",
  "pipeline/embed/http-thread",
  "store/sqlite/facts-thread",
  "server/export-thread",
  "server/report-thread",
];

fs.rmSync(path.join(dist, "chunks"), { recursive: true, force: true });
const result = await build({
  entryPoints: Object.fromEntries(ENTRIES.map((e) => [`${e}.bundle`, path.join(dist, `${e}.js`)])),
  outdir: dist,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  minify: false,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
});

// own-files.ts resolves the package's files from the file its code lands in: that file must sit one
// level under dist/, like dist/core/own-files.js does.
const hosts = Object.entries(result.metafile.outputs)
  .filter(([, output]) => Object.keys(output.inputs).some((input) => input.endsWith("core/own-files.js")))
  .map(([file]) => path.relative(dist, path.resolve(root, file)));
const misplaced = hosts.filter((file) => file.split(path.sep).length !== 2);
if (hosts.length === 0 || misplaced.length > 0) {
  throw new Error(`core/own-files.js must be bundled one level under dist/, found in: ${hosts.join(", ")}`);
}
