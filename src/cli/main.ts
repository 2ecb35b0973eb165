#!/usr/bin/env node
import fs from "node:fs";

// The built CLI runs from one bundle (scripts/bundle.mjs): Node's module loader costs a millisecond
// or two per module, and a run loaded over a hundred of them before its first document. The
// sources (and a build without the bundle) run the modules themselves.
const bundle = new URL("./cli.bundle.js", import.meta.url);
await import(fs.existsSync(bundle) ? bundle.href : "./cli.js");
