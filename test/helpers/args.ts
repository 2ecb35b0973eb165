/**
 * CLI argument arrays, written as objects: `{ batchId: "k", chunkSize: 400, noProgress: true }`
 * reads `--batch-id k --chunk-size 400 --no-progress`. A flag whose value is `false` or
 * `undefined` is left out, so a test can switch one off.
 */
export type Flags = Record<string, string | number | boolean | undefined>;

export function flags(options: Flags): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === false || value === undefined) continue;
    const name = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (value === true) args.push(name);
    else args.push(name, String(value));
  }
  return args;
}

/** What a script runs: no progress bar, the report as JSON on stdout. */
const QUIET: Flags = { noProgress: true, json: true };

/** `docbatch run INPUT --no-progress --json` and the given flags. */
export function runArgs(input: string, options: Flags): string[] {
  return ["run", input, ...flags({ ...QUIET, ...options })];
}

/** `docbatch worker --no-progress --json` and the given flags. */
export function workerArgs(options: Flags): string[] {
  return ["worker", ...flags({ ...QUIET, ...options })];
}

/** `docbatch COMMAND --json` and the given flags (status, retry, report, export ...). */
export function commandArgs(command: string, options: Flags): string[] {
  return [command, ...flags({ json: true, ...options })];
}
