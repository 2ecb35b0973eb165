import type { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DocbatchError } from "../../core/errors.js";
import {
  checklist,
  DEFAULT_THRESHOLDS,
  type DemoMeasurements,
  formatChecklist,
  type Thresholds,
} from "../../report/checklist.js";
import { renderHtmlReport } from "../../report/html.js";
import { analyzeBatch, type BatchAnalysis } from "../../report/report.js";
import { formatReport } from "../../report/text.js";
import { createStore } from "../../store/open.js";
import { EmbeddingTestServer } from "../../testing/embedding-server.js";
import { parseCommand } from "../args.js";
import { printHelp } from "../help.js";
import { commandPrefix, shellQuote } from "../output.js";
import { type Demo, EXAMPLE, spawnCli } from "./demo-shared.js";
import { searchChanged, updateIncrementally } from "./demo-update.js";

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("demo", args);
  if (values.help) return printHelp("demo");
  const thresholds = parseThresholds(values.threshold);
  const demo = prepareDemo(values.keep ?? values.dir);
  // The embeddings service: 3% of requests fail (500, 429 with Retry-After, hang, dropped connection).
  // 384 dimensions, as the small sentence models have: the hashing vectors then rank search well.
  const server = new EmbeddingTestServer({
    dimensions: 384,
    latencyMs: 15,
    seed: 7,
    retryAfterSeconds: 1,
    rates: { error500: 0.012, rateLimit429: 0.006, hang: 0.006, drop: 0.006 },
  });
  const url = await server.start();
  try {
    introduce(demo, url);
    const runArgs = demoRunArgs(demo, url);
    const crash = await crashMidway(demo, runArgs);
    await resumeRun(demo, runArgs);
    const invalid = await rejectInvalidInput(demo);
    const update = await updateIncrementally(demo, runArgs, server);
    const search = await searchChanged(demo);
    const analysis = await showReport(demo);
    const items = checklist({ report: analysis.report, ...crash, ...invalid, update, search }, thresholds);
    demo.heading("7. Checklist (every line measured)");
    demo.say(formatChecklist(items, demo.color));
    showWhatIsKept(demo, analysis);
    return items.every((i) => i.ok) ? 0 : 1;
  } finally {
    await server.stop();
    if (!demo.kept) fs.rmSync(demo.dir, { recursive: true, force: true });
  }
}

function prepareDemo(kept: string | undefined): Demo {
  const dir = kept ?? fs.mkdtempSync(path.join(os.tmpdir(), "docbatch-demo-"));
  fs.mkdirSync(dir, { recursive: true });
  const db = path.join(dir, "demo.db");
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(db + suffix, { force: true });
  const color = Boolean(process.stdout.isTTY);
  const say = (text: string) => process.stdout.write(`${text}\n`);
  const examples = JSON.parse(fs.readFileSync(EXAMPLE, "utf8")) as { documents: Demo["documents"] };
  return {
    dir,
    db,
    kept,
    color,
    documents: examples.documents,
    say,
    heading: (text) => say(color ? `\n\x1b[1m${text}\x1b[0m` : `\n${text}`),
  };
}

function introduce(demo: Demo, url: string): void {
  const { say } = demo;
  say(
    `docbatch demo: ${demo.documents.length} documents from ${path.relative(process.cwd(), EXAMPLE) || EXAMPLE}`,
  );
  say(
    demo.kept
      ? `  store, log and report kept in ${demo.dir}`
      : `  store and log in a temporary folder, removed at the end (keep them with --keep DIR)`,
  );
  say(`  embeddings: a local OpenAI-compatible server at ${url}, failing 3% of requests`);
  say("  faults: 3% injected parser crashes (--inject parse=0.03), and the process is killed midway");
}

function demoRunArgs(demo: Demo, url: string): string[] {
  return [
    "run",
    EXAMPLE,
    "--db",
    demo.db,
    "--batch-id",
    "demo",
    "--embed-url",
    url,
    "--embed-timeout-ms",
    "500",
    "--embed-batch-size",
    "8",
    "--concurrency",
    "4",
    "--inject",
    "parse=0.03",
    "--seed",
    "7",
    "--base-delay-ms",
    "50",
    "--no-progress",
    "--json",
    "--log-file",
    path.join(demo.dir, "demo.log"),
  ];
}

/** Step 1: the first run, SIGKILLed once about half of the documents are settled. */
async function crashMidway(
  demo: Demo,
  runArgs: string[],
): Promise<Pick<DemoMeasurements, "atCrash" | "firstRunEnd">> {
  demo.heading("1. First run, killed with SIGKILL midway");
  const first = spawnCli(runArgs);
  const total = new Set(demo.documents.map((d) => `${d.source}/${d.id?.normalize("NFC").trim()}`)).size;
  const killedAt = await killMidway(first.child, demo.db, total);
  const end = await first.done;
  const atCrash = await countsAt(demo.db);
  demo.say(
    `  ${end.signal === "SIGKILL" ? "killed" : `ended (exit ${end.code})`} after ${atCrash.completed + atCrash.failed} of ${atCrash.total} documents` +
      (killedAt ? "" : " (it finished before it could be killed)"),
  );
  return { atCrash, firstRunEnd: { signal: end.signal, code: end.code } };
}

/** Step 2: the same command again, which resumes. */
async function resumeRun(demo: Demo, runArgs: string[]): Promise<void> {
  demo.heading("2. The same command again: it resumes");
  const end = await spawnCli(runArgs).done;
  if (end.code !== 0 && end.code !== 3) {
    throw new DocbatchError(
      "INTERNAL",
      `the resumed run failed (exit ${end.code}): ${end.stderr.slice(-500)}`,
    );
  }
  const resumed = (
    JSON.parse(end.stdout) as {
      runs: { processed: number; skipped_done: number; recovered_in_flight: number }[];
    }
  ).runs.at(-1)!;
  demo.say(
    `  processed ${resumed.processed}, skipped ${resumed.skipped_done} already complete, ` +
      `recovered ${resumed.recovered_in_flight} left in flight by the killed run`,
  );
}

/** Step 3: an input with errors, rejected as a whole with the error body. */
async function rejectInvalidInput(
  demo: Demo,
): Promise<Pick<DemoMeasurements, "errorBody" | "errorExitCode">> {
  demo.heading("3. An invalid input: rejected as a whole, nothing written");
  const invalid = path.join(demo.dir, "invalid.json");
  fs.writeFileSync(
    invalid,
    JSON.stringify({
      documents: [{ id: "ok", content: "fine" }, { content: "no id" }, { id: "x", path: "../../etc/passwd" }],
    }),
  );
  const end = await spawnCli(["run", invalid, "--db", demo.db, "--no-progress"]).done;
  const errorLine = end.stderr.trim().split("\n").at(-1) ?? "";
  let errorBody: unknown = null;
  try {
    errorBody = JSON.parse(errorLine);
  } catch {
    errorBody = null;
  }
  demo.say(`  exit ${end.code}, stderr:`);
  demo.say(`  ${errorLine}`);
  return { errorBody, errorExitCode: end.code };
}

/** Step 4: the batch's report, read from the store. */
async function showReport(demo: Demo): Promise<BatchAnalysis> {
  const store = await createStore({ db: demo.db }, { readonly: true });
  await store.open();
  const analysis = await analyzeBatch(store, "demo").finally(() => store.close());
  demo.heading("6. Report");
  demo.say(
    formatReport(analysis.report, analysis.series.failures, {
      cli: commandPrefix(),
      store: demo.kept ? `--db ${shellQuote(demo.db)}` : "",
      nextSteps: Boolean(demo.kept),
    }),
  );
  return analysis;
}

/** The HTML report and commands to look around in a kept folder, or how to keep one. */
function showWhatIsKept(demo: Demo, analysis: BatchAnalysis): void {
  const { kept, say, heading } = demo;
  if (kept) {
    const html = path.join(demo.dir, "report.html");
    fs.writeFileSync(html, renderHtmlReport(analysis));
    heading("Next: look around (these commands work as printed, from this folder)");
    for (const line of nextSteps(kept)) say(`  ${line}`);
    heading("HTML report");
    say(`  ${html}`);
  } else {
    heading("Keep it");
    say("  The store, the log and the report were in a temporary folder, now removed. To keep them");
    say(`  and get commands to look around: ${commandPrefix()} demo --keep docbatch-demo`);
  }
}

/** Commands that read a kept demo store (and change nothing): status, report, export, batches. */
function nextSteps(kept: string): string[] {
  const cli = commandPrefix();
  const db = shellQuote(path.join(kept, "demo.db"));
  const html = shellQuote(path.join(kept, "report.html"));
  return [
    `${cli} status --db ${db} --batch-id demo`,
    `${cli} report --db ${db} --batch-id demo --html ${html}`,
    `${cli} export --db ${db} --batch-id demo | head -n 3`,
    `${cli} batches --db ${db}`,
  ];
}

function parseThresholds(spec: string | undefined): Thresholds {
  const t = { ...DEFAULT_THRESHOLDS };
  if (!spec) return t;
  const names: Record<string, keyof Thresholds> = {
    completion: "completion",
    dup: "dup",
    fail: "fail",
    resume_ms: "resumeMs",
  };
  for (const part of spec.split(",")) {
    const [name = "", value = ""] = part.split("=").map((x) => x.trim());
    const key = names[name];
    const n = Number(value);
    if (!key || value === "" || !Number.isFinite(n)) {
      throw new DocbatchError("USAGE", `--threshold: cannot read \`${part}\``, {
        details: [
          { path: "--threshold", problem: `expected one of ${Object.keys(names).join(", ")} = a number` },
        ],
      });
    }
    t[key] = n;
  }
  return t;
}

/** Kills the child once about half of the documents are settled; false if it ended first. */
async function killMidway(child: ReturnType<typeof spawn>, db: string, total: number): Promise<boolean> {
  const target = Math.ceil(total * (0.4 + Math.random() * 0.2));
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (fs.existsSync(db)) {
      const { completed, failed } = await countsAt(db).catch(() => ({ completed: 0, failed: 0 }));
      if (completed + failed >= target) {
        child.kill("SIGKILL");
        return true;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function countsAt(db: string): Promise<DemoMeasurements["atCrash"]> {
  const store = await createStore({ db }, { readonly: true });
  await store.open();
  try {
    const c = await store.counts("demo");
    return {
      completed: c.done + c.degraded,
      failed: c.failed,
      unfinished: c.pending + c.processing,
      total: c.total,
    };
  } finally {
    await store.close();
  }
}
