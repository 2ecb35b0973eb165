import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Logger as PinoLogger } from "pino";

/** What docbatch writes its log through; a pino logger is one. */
export type Logger = Pick<PinoLogger, "debug" | "info" | "warn" | "error">;

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Logging off: nothing is formatted, and pino is not even loaded (it costs a run tens of ms). */
const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** True for the logger of a run without `--log-file`: callers may skip building what it would drop. */
export function logsNothing(logger: Logger): boolean {
  return logger === SILENT;
}

/**
 * JSON-lines logs (pino) written synchronously to `--log-file`, so the last lines before a crash
 * are on disk. Without a file, logging is off.
 */
export function createLogger(file: string | undefined, level = "info"): Logger {
  if (!file) return SILENT;
  const pino = createRequire(import.meta.url)("pino") as typeof import("pino").default;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const destination = pino.destination({ dest: file, sync: true, mkdir: true });
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
