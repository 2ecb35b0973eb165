/**
 * Compiles the peers (and the docbatch modules they import) to plain JavaScript, so that they run
 * under bare `node` like `dist/cli/main.js` does: a TypeScript loader in the measured processes
 * would add its own start-up time and memory to theirs. Type-only transpilation (the type check is
 * `npm run typecheck`'s job); the output goes under node_modules/.cache, where bare imports resolve
 * to the project's node_modules.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { ROOT } from "../lib.js";

export const PEERS_OUT = path.join(ROOT, "node_modules", ".cache", "docbatch-bench-peers");

/** Relative imports, static (`from "./x.js"`) and dynamic (`import("./x.js")`, modules loaded when needed). */
const RELATIVE_IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*)["'](\.{1,2}\/[^"']+)\.js["']/g;

/** Transpiles `entries` (paths relative to ROOT) and what they import; returns the .js path of each. */
export function buildPeers(entries: string[]): string[] {
  fs.rmSync(PEERS_OUT, { recursive: true, force: true });
  fs.mkdirSync(PEERS_OUT, { recursive: true });
  // Below node_modules there is no package scope: say that these files are ES modules.
  fs.writeFileSync(path.join(PEERS_OUT, "package.json"), '{"type":"module"}\n');
  const seen = new Set<string>();
  const pending = entries.map((e) => path.join(ROOT, e));
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = fs.readFileSync(file, "utf8");
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        verbatimModuleSyntax: true,
      },
    });
    const out = path.join(PEERS_OUT, path.relative(ROOT, file)).replace(/\.ts$/, ".js");
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, outputText);
    for (const match of source.matchAll(RELATIVE_IMPORT)) {
      pending.push(path.resolve(path.dirname(file), `${match[1]}.ts`));
    }
  }
  return entries.map((e) => path.join(PEERS_OUT, e.replace(/\.ts$/, ".js")));
}
