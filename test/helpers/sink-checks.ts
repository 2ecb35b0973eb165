import fs from "node:fs";
import { expect } from "vitest";
import { replayLog } from "../../src/sinks/jsonl/index.js";
import { collect, jsonLines, runCli, spawnCli } from "./cli.js";
import { countDone } from "./store.js";

/** The random seed of a test: DOCBATCH_TEST_SEED replays a run; the seed is printed either way. */
export function testSeed(name: string): number {
  const seed = Number(process.env.DOCBATCH_TEST_SEED ?? Math.floor(Math.random() * 1_000_000));
  process.stdout.write(`${name}: seed ${seed} (DOCBATCH_TEST_SEED=${seed} replays it)\n`);
  return seed;
}

/** The export of a batch as key → text. */
export async function exportedTexts(storeArgs: string[], batchId: string): Promise<Map<string, string>> {
  const result = await runCli(["export", "--batch-id", batchId, ...storeArgs]);
  expect(result.code, result.stderr).toBe(0);
  const rows = jsonLines(result.stdout) as { idempotency_key: string; text: string }[];
  return new Map(rows.map((r) => [r.idempotency_key, r.text]));
}

/** What a change log replays to, as key → text. */
export async function replayedTexts(file: string): Promise<Map<string, string>> {
  const state = await replayLog(file);
  return new Map([...state].map(([key, line]) => [key, line.text ?? ""]));
}

/** Removes every line of `keys` from a change log, behind docbatch's back. */
export function removeFromLog(file: string, keys: Set<string>): void {
  const kept = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() === "" || !keys.has((JSON.parse(line) as { key: string }).key));
  fs.writeFileSync(file, kept.join("\n"));
}

export function sortedEntries(map: Map<string, string>): [string, string][] {
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Runs `args` up to `attempts` times, each killed with SIGKILL once a random share (10–90%) of the
 * batch's `total` documents is settled in the SQLite store `db`; returns how many runs were killed.
 */
export async function killAtRandom(
  args: string[],
  db: string,
  batchId: string,
  total: number,
  random: () => number,
  attempts: number,
): Promise<number> {
  let kills = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const child = spawnCli(args);
    const finished = collect(child);
    const target = Math.floor((0.1 + 0.8 * random()) * total);
    let exited = false;
    void finished.then(() => {
      exited = true;
    });
    while (!exited && countDone(db, batchId) < target) await sleep(5);
    if (exited) break;
    // A little randomness inside the window, so kills land at arbitrary instructions.
    await sleep(random() * 20);
    process.kill(child.pid!, "SIGKILL");
    if ((await finished).signal === "SIGKILL") kills += 1;
    // A server that serves one connection at a time sees the killed one go.
    await sleep(100);
  }
  return kills;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
