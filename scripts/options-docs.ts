// Rewrites the README's option tables from the option table (src/cli/options.ts):
// `npm run docs:options`. test/cli/options.test.ts fails when the README drifts from the table.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { withOptionTables } from "../src/cli/help.js";

const readme = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "README.md");
const before = fs.readFileSync(readme, "utf8");
const after = withOptionTables(before);
fs.writeFileSync(readme, after);
process.stdout.write(
  before === after ? "README.md: option tables up to date\n" : "README.md: option tables rewritten\n",
);
