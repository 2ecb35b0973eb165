import fs from "node:fs";
import path from "node:path";
import pino, { type Logger } from "pino";

export type { Logger } from "pino";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/**
 * JSON-lines logs (pino) written synchronously to `--log-file`, so the last lines before a crash
 * are on disk. Without a file, logging is off.
 */
export function createLogger(file: string | undefined, level = "info"): Logger {
  if (!file) return pino({ enabled: false });
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const destination = pino.destination({ dest: file, sync: true, mkdir: true });
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
