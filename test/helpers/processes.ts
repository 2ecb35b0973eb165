import type { ChildProcess } from "node:child_process";
import { type CliResult, collect, runCli, spawnCli } from "./cli.js";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A CLI child process, its result once it ends, and whether it has ended yet. */
export interface RunningCli {
  child: ChildProcess;
  finished: Promise<CliResult>;
  exited(): boolean;
}

/** Starts the built CLI as a child process, as `spawnCli` does, and follows it to its end. */
export function startCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): RunningCli {
  const child = spawnCli(args, options);
  const finished = collect(child);
  let ended = false;
  const end = () => {
    ended = true;
  };
  void finished.then(end, end);
  return { child, finished, exited: () => ended };
}

/**
 * Polls `check` until it holds (true), the timeout passes (throws), or `until` settles first
 * (false): a test waits for a state of the store or a file, but never past the end of the process
 * that was to produce it.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  until?: Promise<unknown>,
  intervalMs = 5,
): Promise<boolean> {
  let settled = false;
  void until?.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  const start = Date.now();
  for (;;) {
    if (await check()) return true;
    if (settled) return false;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting`);
    await sleep(intervalMs);
  }
}

export interface KillOptions {
  timeoutMs?: number;
  /** Waits a random time up to this long once `check` holds, so kills land at arbitrary instructions. */
  jitterMs?: number;
  random?: () => number;
}

/**
 * SIGKILLs a running CLI once `check` holds. True when the process died of that signal; false when
 * it ended on its own first (the caller decides whether that is a failure).
 */
export async function killWhen(
  running: RunningCli,
  check: () => boolean | Promise<boolean>,
  options: KillOptions = {},
): Promise<boolean> {
  const reached = await waitFor(check, options.timeoutMs ?? 120_000, running.finished);
  if (!reached) return false;
  if (options.jitterMs) await sleep((options.random ?? Math.random)() * options.jitterMs);
  if (running.exited()) return false;
  running.child.kill("SIGKILL");
  return (await running.finished).signal === "SIGKILL";
}

/** Runs `args` again while `again(result)` holds, `max` runs at the most; the last result and the run count. */
export async function rerunWhile(
  args: string[],
  again: (result: CliResult) => boolean,
  max: number,
): Promise<{ result: CliResult; runs: number }> {
  let result = await runCli(args);
  let runs = 1;
  while (again(result) && runs < max) {
    result = await runCli(args);
    runs += 1;
  }
  return { result, runs };
}
