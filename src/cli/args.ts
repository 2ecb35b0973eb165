import { type ParseArgsConfig, parseArgs } from "node:util";
import { DocbatchError } from "../core/errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Strict flag parsing: an unknown flag or a missing value is a usage error (exit 2), not a crash. */
export function parseFlags(args: string[], options: Options, command: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message;
    throw new DocbatchError("USAGE", `docbatch ${command}: ${message}`, {
      details: [{ path: command, problem: message }],
      hints: [`Run \`docbatch ${command} --help\` for its options.`],
    });
  }
}

export function intFlag(value: unknown, name: string): number | undefined {
  if (value === undefined || typeof value === "boolean") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) {
    throw new DocbatchError("USAGE", `--${name} expects an integer, got \`${value}\``, {
      details: [{ path: `--${name}`, problem: "must be an integer" }],
    });
  }
  return n;
}

export function numberFlag(value: unknown, name: string): number | undefined {
  if (value === undefined || typeof value === "boolean") return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) {
    throw new DocbatchError("USAGE", `--${name} expects a number, got \`${value}\``, {
      details: [{ path: `--${name}`, problem: "must be a number" }],
    });
  }
  return n;
}

export function stringFlag(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function requireBatchId(value: unknown, command: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new DocbatchError("USAGE", `docbatch ${command} needs --batch-id ID`, {
      details: [{ path: "--batch-id", problem: "required" }],
      hints: ["List the batches of the store with `docbatch batches`."],
    });
  }
  return value.trim();
}

/** Store selection shared by every command. */
export const STORE_FLAGS = {
  db: { type: "string" },
  store: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;
