#!/usr/bin/env node
import fs from "node:fs";
import v8 from "node:v8";
import { startEarlyInputThread } from "../runner/early-thread.js";

// V8 11 (Node 20) optimizes a function once it has run about 66 KB of bytecode. A run lasts
// seconds and goes through a few hundred functions (parsers, chunkers, the store, HTTP): at that
// budget it compiles most of them with TurboFan on the second core, which the planner and the
// embedding endpoint need. At 300 KB only the truly hot ones are compiled: 2,000 mixed documents
// against a 5 ms endpoint took 11% less CPU and 7% less time (median of 10, alternating); one-line
// documents the same time. Set here, before anything else is compiled, for every thread of the
// process; later V8s tier up through Maglev by invocation counts and keep their defaults.
if (process.versions.v8.startsWith("11.")) v8.setFlagsFromString("--interrupt-budget=307200");

// The built CLI runs from one bundle (scripts/bundle.mjs): Node's module loader costs a millisecond
// or two per module, and a run loaded over a hundred of them before its first document. The
// sources (and a build without the bundle) run the modules themselves.
const bundle = new URL("./cli.bundle.js", import.meta.url);
const bundled = fs.existsSync(bundle);

// `run` plans on a thread of its own, and a new thread takes longer to start than this process
// takes to load the CLI: started now, it loads on the other core meanwhile. A first run of 1,000
// one-line documents against a 5 ms endpoint claimed its first document 33 ms sooner and ended 8%
// sooner (221 → 188 ms, 400 → 368 ms, medians of 20 alternating runs). A run that does not plan
// ends it unused (InputThread.discard).
if (bundled && process.argv[2] === "run") {
  startEarlyInputThread(new URL("../runner/input-thread.bundle.js", import.meta.url));
}
await import(bundled ? bundle.href : "./cli.js");
