import path from "node:path";
import { errorBody, exitCode, toDocbatchError } from "../core/errors.js";
import { storeError } from "../store/transient.js";

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The contract's error body on stderr, as one line (the last line of stderr), and its exit code.
 * A database driver's error is reduced to its code and first line (never its fields or stack).
 */
export function printError(err: unknown): number {
  const error = storeError(err) ?? toDocbatchError(err);
  process.stderr.write(`${JSON.stringify(errorBody(error))}\n`);
  return exitCode(error.code);
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * How this process was started, so that commands it prints work when pasted: `npx docbatch`
 * under npx, `node dist/cli/main.js` when started by path, `docbatch` from the PATH.
 */
export function commandPrefix(): string {
  if (process.env.npm_command === "exec") return "npx docbatch";
  const script = process.argv[1] ?? "";
  if (path.basename(script) === "main.js") {
    return `node ${shellQuote(path.relative(process.cwd(), script) || script)}`;
  }
  return "docbatch";
}

/** A word as a POSIX shell reads it back. */
export function shellQuote(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
