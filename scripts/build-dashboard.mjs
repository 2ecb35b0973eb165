// Bundles the dashboard's client (src/dashboard, TypeScript for the browser) into one ES module,
// dist/dashboard/client.js, which the server inlines into the dashboard page. esbuild comes with
// the dev tools (tsx, vite); the published package ships the bundle and needs no build tool.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [path.join(root, "src", "dashboard", "main.ts")],
  outfile: path.join(root, "dist", "dashboard", "client.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  // Readable in the browser's tools: the page is small, and a CSP hash covers it either way.
  minify: false,
  legalComments: "none",
  logLevel: "warning",
});
