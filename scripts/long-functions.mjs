// Lists the functions in src/ by length, longest first, and fails when one is over the limit:
// a function should fit on a screen. Data tables are exempt by name (the OpenAPI document is one
// object literal, read as a table, not as logic).
//
//   node scripts/long-functions.mjs [--limit 80] [--all]
//
// Lengths count the lines from a function's first to its last line, comments included; a nested
// function counts inside its parent and again on its own.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const exempt = new Set(["src/server/openapi.ts:openApiDocument"]);

function parseArgs(argv) {
  const limitAt = argv.indexOf("--limit");
  return { limit: limitAt >= 0 ? Number(argv[limitAt + 1]) : 80, all: argv.includes("--all") };
}

function listTsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listTsFiles(full);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** The name a reader would search for: the declared name, or the variable, property or call it sits in. */
function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText().slice(0, 40)})`;
  return "(anonymous)";
}

function collectFunctions(file) {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const relative = path.relative(root, file).split(path.sep).join("/");
  const found = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file: relative, line: start + 1, name: nameOf(node), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const { limit, all } = parseArgs(process.argv.slice(2));
const functions = listTsFiles(path.join(root, "src"))
  .flatMap(collectFunctions)
  .sort((a, b) => b.lines - a.lines);
const isExempt = (f) => exempt.has(`${f.file}:${f.name}`);
const shown = all ? functions : functions.filter((f) => f.lines > limit);
for (const f of shown) {
  const mark = isExempt(f) ? " (exempt: data table)" : "";
  console.log(`${String(f.lines).padStart(4)}  ${f.name}  ${f.file}:${f.line}${mark}`);
}
const over = functions.filter((f) => f.lines > limit && !isExempt(f));
console.log(`${over.length} function(s) over ${limit} lines${over.length ? "" : " (besides exempt tables)"}`);
process.exitCode = over.length > 0 ? 1 : 0;
