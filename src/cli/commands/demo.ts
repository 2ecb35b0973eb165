import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DocbatchError } from "../../core/errors.js";
import {
  checklist,
  DEFAULT_THRESHOLDS,
  type DemoMeasurements,
  formatChecklist,
  type Thresholds,
} from "../../report/checklist.js";
import { renderHtmlReport } from "../../report/html.js";
import { analyzeBatch } from "../../report/report.js";
import { formatReport } from "../../report/text.js";
import { SqliteStore } from "../../store/sqlite/index.js";
import { EmbeddingTestServer } from "../../testing/embedding-server.js";
import { parseCommand } from "../args.js";
import { printHelp } from "../help.js";
import { commandPrefix, shellQuote } from "../output.js";

const CLI = fileURLToPath(new URL("../main.js", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../../examples/input_example.json", import.meta.url));

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("demo", args);
  if (values.help) return printHelp("demo");
  const thresholds = parseThresholds(values.threshold);
  const kept = values.keep ?? values.dir;
  const dir = kept ?? fs.mkdtempSync(path.join(os.tmpdir(), "docbatch-demo-"));
  fs.mkdirSync(dir, { recursive: true });
  const db = path.join(dir, "demo.db");
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(db + suffix, { force: true });
  const color = Boolean(process.stdout.isTTY);
  const say = (text: string) => process.stdout.write(`${text}\n`);
  const heading = (text: string) => say(color ? `\n\x1b[1m${text}\x1b[0m` : `\n${text}`);

  // The embeddings service: 3% of requests fail (500, 429 with Retry-After, hang, dropped connection).
  const server = new EmbeddingTestServer({
    latencyMs: 15,
    seed: 7,
    retryAfterSeconds: 1,
    rates: { error500: 0.012, rateLimit429: 0.006, hang: 0.006, drop: 0.006 },
  });
  const url = await server.start();
  try {
    const examples = JSON.parse(fs.readFileSync(EXAMPLE, "utf8")) as { documents: unknown[] };
    say(
      `docbatch demo: ${examples.documents.length} documents from ${path.relative(process.cwd(), EXAMPLE) || EXAMPLE}`,
    );
    say(
      kept
        ? `  store, log and report kept in ${dir}`
        : `  store and log in a temporary folder, removed at the end (keep them with --keep DIR)`,
    );
    say(`  embeddings: a local OpenAI-compatible server at ${url}, failing 3% of requests`);
    say("  faults: 3% injected parser crashes (--inject parse=0.03), and the process is killed midway");
    const runArgs = [
      "run",
      EXAMPLE,
      "--db",
      db,
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
      path.join(dir, "demo.log"),
    ];

    heading("1. First run, killed with SIGKILL midway");
    const first = spawnCli(runArgs);
    const total = new Set(
      (examples.documents as { id?: string; source?: string }[]).map(
        (d) => `${d.source}/${d.id?.normalize("NFC").trim()}`,
      ),
    ).size;
    const killedAt = await killMidway(first.child, db, total);
    const firstEnd = await first.done;
    const atCrash = await countsAt(db);
    say(
      `  ${firstEnd.signal === "SIGKILL" ? "killed" : `ended (exit ${firstEnd.code})`} after ${atCrash.completed + atCrash.failed} of ${atCrash.total} documents` +
        (killedAt ? "" : " (it finished before it could be killed)"),
    );

    heading("2. The same command again: it resumes");
    const second = spawnCli(runArgs);
    const secondEnd = await second.done;
    if (secondEnd.code !== 0 && secondEnd.code !== 3) {
      throw new DocbatchError(
        "INTERNAL",
        `the resumed run failed (exit ${secondEnd.code}): ${secondEnd.stderr.slice(-500)}`,
      );
    }
    const resumed = (
      JSON.parse(secondEnd.stdout) as {
        runs: { processed: number; skipped_done: number; recovered_in_flight: number }[];
      }
    ).runs.at(-1)!;
    say(
      `  processed ${resumed.processed}, skipped ${resumed.skipped_done} already complete, ` +
        `recovered ${resumed.recovered_in_flight} left in flight by the killed run`,
    );

    heading("3. An invalid input: rejected as a whole, nothing written");
    const invalid = path.join(dir, "invalid.json");
    fs.writeFileSync(
      invalid,
      JSON.stringify({
        documents: [
          { id: "ok", content: "fine" },
          { content: "no id" },
          { id: "x", path: "../../etc/passwd" },
        ],
      }),
    );
    const bad = spawnCli(["run", invalid, "--db", db, "--no-progress"]);
    const badEnd = await bad.done;
    const errorLine = badEnd.stderr.trim().split("\n").at(-1) ?? "";
    let errorBody: unknown = null;
    try {
      errorBody = JSON.parse(errorLine);
    } catch {
      errorBody = null;
    }
    say(`  exit ${badEnd.code}, stderr:`);
    say(`  ${errorLine}`);

    const store = new SqliteStore({ file: db, readonly: true });
    await store.open();
    const analysis = await analyzeBatch(store, "demo");
    await store.close();
    heading("4. Report");
    say(
      formatReport(analysis.report, analysis.series.failures, {
        cli: commandPrefix(),
        store: kept ? `--db ${shellQuote(db)}` : "",
        nextSteps: Boolean(kept),
      }),
    );

    const measurements: DemoMeasurements = {
      report: analysis.report,
      atCrash,
      firstRunEnd: { signal: firstEnd.signal, code: firstEnd.code },
      errorBody,
      errorExitCode: badEnd.code,
    };
    const items = checklist(measurements, thresholds);
    heading("5. Checklist (every line measured)");
    say(formatChecklist(items, color));

    if (kept) {
      const html = path.join(dir, "report.html");
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
    return items.every((i) => i.ok) ? 0 : 1;
  } finally {
    await server.stop();
    if (!kept) fs.rmSync(dir, { recursive: true, force: true });
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

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const done = new Promise<Finished>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
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
  const store = new SqliteStore({ file: db, readonly: true });
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
