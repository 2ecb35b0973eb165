import fs from "node:fs";
import { expect } from "vitest";
import { replayLog } from "../../src/sinks/jsonl/index.js";
import { jsonLines, runCli } from "./cli.js";

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
