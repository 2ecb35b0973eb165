import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { collect, jsonLines, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { seededRandom, testSeed } from "../helpers/seed.js";

/**
 * A `--sync full` run killed with SIGKILL at random moments, planning included, never loses a
 * document that is still in the input: nothing is deleted before the plan is complete, and what
 * is deleted is exactly what the input left out. Three rounds, each a new input (files removed,
 * added and changed), each run killed up to four times and then finished.
 */

const FILES = 3_000;
const name = (i: number) => `doc-${String(i).padStart(5, "0")}.txt`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function writeFiles(dir: string, from: number, to: number, tag: string): void {
  for (let i = from; i < to; i++) {
    fs.writeFileSync(path.join(dir, name(i)), `Document ${i} ${tag}. ${"lorem ipsum ".repeat(20)}\n`);
  }
}

interface StoreState {
  runs: number;
  planComplete: boolean;
  planned: number;
  deleted: string[];
}

function storeState(db: string): StoreState {
  const conn = new Database(db, { readonly: true, timeout: 5_000 });
  try {
    const batch = conn
      .prepare("SELECT plan_complete, plan_records, plan_generation FROM batches WHERE batch_id = 'k'")
      .get() as { plan_complete: number; plan_records: number; plan_generation: number };
    const deleted = conn
      .prepare("SELECT doc_id FROM documents WHERE batch_id = 'k' AND state = 'deleted'")
      .pluck()
      .all() as string[];
    const runs = conn.prepare("SELECT COUNT(*) FROM runs WHERE batch_id = 'k'").pluck().get() as number;
    return {
      runs,
      planComplete: batch.plan_complete === 1,
      planned: batch.plan_records,
      deleted,
    };
  } finally {
    conn.close();
  }
}

/**
 * Starts the run and kills it at a random moment: once it registered its run (validation is over;
 * now and then before), a random time into planning or processing, within `window.ms`. A run that
 * ends before its kill narrows the window to most of the time it took, so that the kills keep
 * landing inside runs however fast they get. Returns whether it was killed.
 */
async function killSomewhere(
  args: string[],
  db: string,
  random: () => number,
  window: { ms: number },
): Promise<boolean> {
  const before = storeState(db).runs;
  const child = spawnCli(args);
  const finished = collect(child);
  let exitedAt: number | null = null;
  void finished.then(() => {
    exitedAt = performance.now();
  });
  if (random() < 0.85) {
    while (exitedAt === null) {
      if (storeState(db).runs > before) break;
      await sleep(3);
    }
  }
  const from = performance.now();
  await sleep(random() * window.ms);
  child.kill("SIGKILL");
  const killed = (await finished).signal === "SIGKILL";
  if (!killed) window.ms = Math.min(window.ms, Math.max(50, 0.8 * ((exitedAt ?? from) - from)));
  return killed;
}

describe("--sync full under SIGKILL", () => {
  it("never deletes a document still in the input, whenever it is killed", async () => {
    const seed = testSeed("sync full kills");
    const random = seededRandom(seed);
    const dir = tempDir("docbatch-sync-kill-");
    const corpus = path.join(dir, "corpus");
    fs.mkdirSync(corpus);
    writeFiles(corpus, 0, FILES, "first");
    const db = path.join(dir, "store.db");
    const args = ["run", corpus, "--db", db, "--batch-id", "k", "--no-progress", "--json"];
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    const full = [...args, "--sync", "full"];

    let kills = 0;
    let killedWhilePlanning = 0;
    const window = { ms: 3_000 };
    const gone = new Set<string>();
    for (let round = 0; round < 3; round++) {
      // 100 files leave the input, 100 arrive, 100 change.
      const base = round * 100;
      for (let i = base; i < base + 100; i++) {
        fs.rmSync(path.join(corpus, name(i)));
        gone.add(name(i));
      }
      writeFiles(corpus, FILES + base, FILES + base + 100, "new");
      writeFiles(corpus, 1_000 + base, 1_100 + base, `round ${round}`);
      for (let attempt = 0; attempt < 4; attempt++) {
        if (await killSomewhere(full, db, random, window)) kills += 1;
        const state = storeState(db);
        process.stderr.write(
          `round ${round} kill ${attempt}: planned ${state.planned}, complete ${state.planComplete}, ${state.deleted.length} deleted\n`,
        );
        if (!state.planComplete) {
          killedWhilePlanning += 1;
          // Nothing of this plan is deleted before it is complete.
          expect(state.deleted.filter((id) => !removedBefore(round, id))).toEqual([]);
        }
        for (const id of state.deleted) expect(gone.has(id), `${id} is still in the input`).toBe(true);
      }
      const last = await runCli(full);
      expect(last.code, last.stderr).toBe(0);
      expect(JSON.parse(last.stdout).counts).toMatchObject({ deleted: gone.size, total: FILES });
      const exported = jsonLines((await runCli(["export", "--db", db, "--batch-id", "k"])).stdout);
      const ids = new Set(exported.map((r) => r.doc_id as string));
      expect(ids.size).toBe(FILES);
      for (const id of fs.readdirSync(corpus)) expect(ids.has(id), `${id} was lost`).toBe(true);
      expect(exported.find((r) => r.doc_id === name(1_000 + base))?.text).toContain(`round ${round}`);
    }
    process.stderr.write(`${kills} kills, ${killedWhilePlanning} with the plan incomplete\n`);
    expect(kills).toBeGreaterThanOrEqual(3);
  }, 400_000);
});

/** True when the document left the input in an earlier round (and was deleted then). */
function removedBefore(round: number, id: string): boolean {
  const i = Number(id.slice(4, 9));
  return i < round * 100;
}
