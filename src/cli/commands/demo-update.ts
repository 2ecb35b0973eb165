import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { DemoMeasurements } from "../../report/checklist.js";
import type { EmbeddingTestServer } from "../../testing/embedding-server.js";
import { type Demo, EXAMPLE, type ExampleDocument, spawnCli } from "./demo-shared.js";

/**
 * The incremental steps of `docbatch demo`: the example input changes (a passage added to a few
 * documents, one document gone), `plan --sync full` shows what a run would do without doing it,
 * `run --sync full` embeds only the texts that changed, and `search` finds the new passage.
 */

/** Documents whose first paragraph gains the passage below, and the one that disappears. */
const CHANGED = ["kb-001", "kb-004", "kb-007"];
const DELETED = "kb-008";
const PASSAGE = "Zebra-striped lighthouse ledgers now record every thunderstorm of the quarter.";
const QUERY = PASSAGE;

type Update = NonNullable<DemoMeasurements["update"]>;
type Search = NonNullable<DemoMeasurements["search"]>;

/** Step 4: plan the changed input, then run it with `--sync full`. */
export async function updateIncrementally(
  demo: Demo,
  runArgs: string[],
  server: EmbeddingTestServer,
): Promise<Update> {
  demo.heading("4. The sources change: a passage added to 3 documents, 1 document deleted");
  const input = writeChangedInput(demo);
  const args = [...withInput(runArgs, input), "--sync", "full"];
  const before = { requests: server.stats().requests, store: storeState(demo.db) };
  // The run command becomes its plan by its first word.
  const planned = await spawnCli(["plan", ...args.slice(1)]).done;
  const plan = parseJson<Update["plan"]>(planned.stdout);
  const planWroteNothing =
    server.stats().requests === before.requests && storeState(demo.db) === before.store;
  demo.say(
    plan
      ? `  plan: ${plan.new} new, ${plan.changed} changed, ${plan.unchanged} unchanged, ${plan.deleted} deleted; ` +
          `${plan.chunks_to_embed} of ${plan.chunks} chunks to embed (the rest are in the cache)`
      : `  plan failed (exit ${planned.code}): ${planned.stderr.trim().split("\n").at(-1)}`,
  );
  const sentBefore = server.stats().textsOk;
  const ran = await spawnCli(args).done;
  const textsSent = server.stats().textsOk - sentBefore;
  const report = parseJson<{ counts: { changed?: number; deleted?: number } }>(ran.stdout);
  const exported = await exportRows(demo);
  const changedChunks = exported.filter((r) => CHANGED.includes(r.doc_id)).length;
  const update: Update = {
    plan,
    planWroteNothing,
    runExit: ran.code,
    changed: report?.counts.changed ?? null,
    deleted: report?.counts.deleted ?? null,
    textsSent,
    changedChunks,
    deletedGone: exported.length > 0 && !exported.some((r) => r.doc_id === DELETED),
  };
  demo.say(
    `  run --sync full: exit ${ran.code}, ${update.changed ?? "?"} changed, ${update.deleted ?? "?"} deleted; ` +
      `${textsSent} texts sent to the embeddings service for ${changedChunks} chunks of the changed documents`,
  );
  return update;
}

/** Step 5: a search for the passage added in step 4. */
export async function searchChanged(demo: Demo): Promise<Search> {
  demo.heading("5. Search for the new passage");
  const ran = await spawnCli(["search", QUERY, "--db", demo.db, "--batch-id", "demo", "--k", "3", "--json"])
    .done;
  const answer = parseJson<{ results: { doc_id: string; score: number; text: string }[] }>(ran.stdout);
  const top = answer?.results[0];
  demo.say(
    top
      ? `  "${QUERY}" → ${top.doc_id} (score ${top.score.toFixed(3)}): ${excerpt(top.text)}`
      : `  search failed (exit ${ran.code}): ${ran.stderr.trim().split("\n").at(-1)}`,
  );
  return {
    query: QUERY,
    topDocument: top?.doc_id ?? null,
    found: top !== undefined && CHANGED.includes(top.doc_id) && top.text.includes(PASSAGE),
  };
}

/**
 * The example input with the passage added and one document left out, next to copies of the
 * files its `path` documents name (paths resolve from the input's folder).
 */
function writeChangedInput(demo: Demo): string {
  const folder = path.join(demo.dir, "changed");
  const documents = demo.documents
    .filter((d) => d.id !== DELETED)
    .map((d) => (d.id && CHANGED.includes(d.id) && d.content ? { ...d, content: addPassage(d.content) } : d));
  for (const d of documents) copyPathDocument(d, folder);
  const input = path.join(folder, "input_example.json");
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(input, JSON.stringify({ documents }, null, 2));
  return input;
}

/** The passage goes at the end of the first paragraph: one chunk of the document changes. */
function addPassage(content: string): string {
  const end = content.indexOf("\n\n", content.indexOf("\n\n") + 2);
  return end < 0 ? `${content} ${PASSAGE}` : `${content.slice(0, end)} ${PASSAGE}${content.slice(end)}`;
}

function copyPathDocument(d: ExampleDocument, folder: string): void {
  if (!d.path) return;
  const from = path.resolve(path.dirname(EXAMPLE), d.path);
  if (!fs.existsSync(from)) return; // A missing file stays missing: it fails as before.
  const to = path.join(folder, d.path);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  if (!fs.existsSync(to)) {
    fs.copyFileSync(from, to);
    // The same modification time as the original: a file whose stat is unchanged is not read again.
    const { atime, mtime } = fs.statSync(from);
    fs.utimesSync(to, atime, mtime);
  }
}

/** Run's arguments on another input, without injected faults: the update is measured exactly. */
function withInput(runArgs: string[], input: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < runArgs.length; i++) {
    if (runArgs[i] === "--inject" || runArgs[i] === "--seed") i += 1;
    else out.push(runArgs[i] === EXAMPLE ? input : runArgs[i]!);
  }
  return out;
}

/**
 * A digest of the store's content: the database file and its write-ahead log (a reader may
 * create an empty log where there was none, which changes nothing).
 */
function storeState(db: string): string {
  const hash = createHash("sha256");
  for (const suffix of ["", "-wal"]) {
    if (fs.existsSync(db + suffix)) hash.update(fs.readFileSync(db + suffix));
    hash.update("|");
  }
  return hash.digest("hex");
}

async function exportRows(demo: Demo): Promise<{ doc_id: string }[]> {
  const ran = await spawnCli(["export", "--db", demo.db, "--batch-id", "demo"]).done;
  return ran.stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { doc_id: string });
}

function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function excerpt(text: string): string {
  const at = text.indexOf(PASSAGE);
  const from = Math.max(0, at - 40);
  return `…${text.slice(from, from + 120).replace(/\s+/g, " ")}…`;
}
