import fs from "node:fs";
import { expect } from "vitest";
import { replayLog } from "../../src/sinks/jsonl/index.js";
import { collect, jsonLines, runCli, spawnCli } from "./cli.js";
import { countDone } from "./store.js";

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

/** `docbatch verify` of a batch against a sink: its exit code and its JSON answer. */
export async function verifySink(
  storeArgs: string[],
  batchId: string,
  sink: string,
  ...extra: string[]
): Promise<{ code: number | null; body: Record<string, unknown> }> {
  const result = await runCli([
    "verify",
    "--batch-id",
    batchId,
    ...storeArgs,
    "--sink",
    sink,
    "--json",
    ...extra,
  ]);
  return { code: result.code, body: JSON.parse(result.stdout || "{}") };
}

/** `count` different keys of `texts`, drawn with `random`. */
export function pickKeys(texts: Map<string, string>, count: number, random: () => number): Set<string> {
  const keys = [...texts.keys()];
  const picked = new Set<string>();
  while (picked.size < count) picked.add(keys[Math.floor(random() * keys.length)]!);
  return picked;
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
