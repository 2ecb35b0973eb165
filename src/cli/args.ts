import { type ParseArgsConfig, parseArgs } from "node:util";
import { DocbatchError } from "../core/errors.js";
import { type CommandName, type Option, type OptionGroup, type OptionSpec, optionsOf } from "./options.js";

type ValueOf<O extends Option> = O["kind"] extends "int" | "number"
  ? number
  : O["kind"] extends "boolean"
    ? boolean
    : O["kind"] extends "list"
      ? string[]
      : O extends { choices: readonly (infer C)[] }
        ? C
        : string;

/** The parsed values of `command`'s options in `groups`, typed from the option table. */
export type Values<C extends CommandName, G extends OptionGroup = OptionGroup> = {
  [O in Option as C extends O["commands"][number]
    ? O["group"] extends G
      ? O["key"]
      : never
    : never]?: ValueOf<O>;
};

export interface ParsedCommand<C extends CommandName> {
  values: Values<C>;
  positionals: string[];
}

/**
 * Parses `args` against the options the table gives `command`. An unknown flag, a missing value,
 * a value of the wrong type or outside its choices is a usage error (exit 2), not a crash.
 */
export function parseCommand<C extends CommandName>(command: C, args: string[]): ParsedCommand<C> {
  const specs = optionsOf(command);
  const config: NonNullable<ParseArgsConfig["options"]> = {};
  for (const spec of specs) {
    config[spec.name] = {
      type: spec.kind === "boolean" ? "boolean" : "string",
      ...(spec.kind === "list" ? { multiple: true } : {}),
      ...(spec.short ? { short: spec.short } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: config, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message;
    throw new DocbatchError("USAGE", `docbatch ${command}: ${message}`, {
      details: [{ path: command, problem: message }],
      hints: [`Run \`docbatch ${command} --help\` for its options.`],
    });
  }
  const values: Record<string, unknown> = {};
  for (const spec of specs) {
    const raw = (parsed.values as Record<string, unknown>)[spec.name];
    if (raw !== undefined) values[spec.key] = convert(spec, raw);
  }
  return { values: values as Values<C>, positionals: parsed.positionals };
}

function convert(spec: OptionSpec, raw: unknown): unknown {
  switch (spec.kind) {
    case "int":
      return intFlag(raw, spec.name);
    case "number":
      return numberFlag(raw, spec.name);
    case "enum": {
      const value = String(raw);
      if (!spec.choices?.includes(value)) {
        const choices = spec.choices?.join(", ") ?? "";
        throw new DocbatchError("USAGE", `--${spec.name} expects one of ${choices}, got \`${value}\``, {
          details: [{ path: `--${spec.name}`, problem: `one of ${choices}` }],
        });
      }
      return value;
    }
    default:
      return raw;
  }
}

/** The values of the given groups only: what goes to the library as options. */
export function pick<C extends CommandName, G extends OptionGroup>(
  command: C,
  values: Values<C>,
  groups: readonly G[],
): Values<C, G> {
  const keys = new Set(
    optionsOf(command)
      .filter((o) => (groups as readonly OptionGroup[]).includes(o.group))
      .map((o) => o.key),
  );
  return Object.fromEntries(
    Object.entries(values).filter(([key, value]) => keys.has(key) && value !== undefined),
  ) as Values<C, G>;
}

export function intFlag(value: unknown, name: string): number | undefined {
  return numericFlag(value, name, "integer");
}

export function numberFlag(value: unknown, name: string): number | undefined {
  return numericFlag(value, name, "number");
}

function numericFlag(value: unknown, name: string, kind: "integer" | "number"): number | undefined {
  if (value === undefined || typeof value === "boolean") return undefined;
  const n = Number(value);
  if (value === "" || !(kind === "integer" ? Number.isInteger(n) : Number.isFinite(n))) {
    throw new DocbatchError(
      "USAGE",
      `--${name} expects ${kind === "integer" ? "an" : "a"} ${kind}, got \`${value}\``,
      {
        details: [{ path: `--${name}`, problem: `must be ${kind === "integer" ? "an" : "a"} ${kind}` }],
      },
    );
  }
  return n;
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
