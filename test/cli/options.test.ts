import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseCommand, type Values } from "../../src/cli/args.js";
import { describeOption, flagLabel, helpText, withOptionTables } from "../../src/cli/help.js";
import { type CommandName, OPTIONS, type OptionSpec, optionsOf } from "../../src/cli/options.js";
import { DEFAULTS } from "../../src/runner/defaults.js";
import type { RunBatchOptions } from "../../src/runner/run-batch.js";
import { pipelineSettings, resolveProcessOptions } from "../../src/runner/run-options.js";
import type { ServeOptions } from "../../src/server/serve.js";
import { ROOT, runCli } from "../helpers/cli.js";

// Compile-time (npm run typecheck): every option of a library group names a real option of the
// library, so adding an entry to the table cannot silently pass a value nobody reads.
type LibraryKeysAreReal = [
  keyof Values<"run", "process" | "output" | "input"> extends keyof RunBatchOptions ? true : false,
  keyof Values<"serve", "server"> extends keyof ServeOptions ? true : false,
];
const libraryKeysAreReal: LibraryKeysAreReal = [true, true];

const COMMANDS = [...new Set(OPTIONS.flatMap((o) => o.commands))] as CommandName[];

/** A value `parseCommand` accepts for the option. */
function sample(spec: OptionSpec): string[] {
  if (spec.kind === "boolean") return [`--${spec.name}`];
  if (spec.kind === "enum") return [`--${spec.name}`, spec.choices![0]!];
  if (spec.kind === "int" || spec.kind === "number") return [`--${spec.name}`, "3"];
  return [`--${spec.name}`, "x"];
}

describe("options from one table", () => {
  it.each(COMMANDS)("`%s --help` lists every flag the command accepts, with its default", async (command) => {
    const result = await runCli([command, "--help"]);
    expect(result.code).toBe(0);
    const help = result.stdout.replace(/\s+/g, " ");
    const specs = optionsOf(command);
    expect(specs.length).toBeGreaterThan(1);
    for (const spec of specs) {
      expect(help).toContain(flagLabel(spec));
      expect(help).toContain(describeOption(spec).replace(/\s+/g, " "));
      // Every listed flag is accepted: no usage error for it.
      expect(() => parseCommand(command, sample(spec))).not.toThrow();
    }
    // And nothing else is: every `--flag` in the help is one of the table's.
    const names = new Set(specs.map((s) => s.name));
    for (const [, flag] of help.matchAll(/(?:^| )--([a-z][a-z-]*)/g)) {
      if (!names.has(flag!)) {
        // Mentioned in prose (e.g. "as for --keep"), it must still be an option of some command.
        expect(OPTIONS.some((o) => o.name === flag)).toBe(true);
      }
    }
    expect(helpText(command)).toBe(result.stdout.trimEnd());
  });

  it("rejects a flag the table does not give the command", () => {
    expect(libraryKeysAreReal).toEqual([true, true]);
    expect(() => parseCommand("status", ["--concurrency", "4"])).toThrow(/Unknown option '--concurrency'/);
    expect(() => parseCommand("run", ["--concurency", "4"])).toThrow(/Unknown option/);
    expect(() => parseCommand("run", ["--durability", "fast"])).toThrow(/full, normal/);
    expect(() => parseCommand("run", ["--concurrency", "many"])).toThrow(/expects an integer/);
  });

  it("shows the defaults the library really applies", () => {
    const processing = resolveProcessOptions({});
    const settings = pipelineSettings({});
    const remote = pipelineSettings({ embedUrl: "http://127.0.0.1:1/v1/embeddings" });
    const applied: Record<string, unknown> = {
      concurrency: processing.concurrency,
      embedConcurrency: `min(--concurrency, ${processing.embedConcurrency})`,
      embedBatchSize: processing.embedBatchSize,
      maxAttempts: processing.policy.maxAttempts,
      baseDelayMs: processing.policy.baseDelayMs,
      maxDelayMs: processing.policy.maxDelayMs,
      docTimeoutMs: processing.docTimeoutMs,
      breakerMaxWaitMs: processing.breakerMaxWaitMs,
      leaseMs: processing.leaseMs,
      seed: processing.seed,
      chunkSize: settings.chunk.size,
      chunkOverlap: settings.chunk.overlap,
      maxDocBytes: settings.maxDocBytes,
      embedTimeoutMs: remote.embed.kind === "http" ? remote.embed.timeoutMs : null,
      embedModel: remote.embed.kind === "http" ? remote.embed.model : null,
    };
    const shown = Object.fromEntries(
      (OPTIONS as readonly OptionSpec[])
        .filter((o) => o.key in applied && o.commands.includes("run"))
        .map((o) => [o.key, o.default]),
    );
    expect(shown).toEqual(applied);
    // The figures the first users were misled by.
    expect(shown.concurrency).toBe(32);
    expect(processing.embedConcurrency).toBe(Math.min(32, DEFAULTS.embedConcurrencyCap));
    const run = helpText("run");
    for (const flag of [
      "--threads N",
      "--embed-concurrency N",
      "--progress-interval-ms N",
      "--max-doc-bytes N",
    ])
      expect(run).toContain(flag);
    expect(run).toMatch(/--concurrency N +documents in flight at once;[\s\S]*?\(default 32\)/);
  });

  it("keeps the README's option tables equal to the table (npm run docs:options)", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("<!-- options:run -->");
    expect(readme).toContain("<!-- options:others -->");
    expect(withOptionTables(readme)).toBe(readme);
    for (const spec of optionsOf("run"))
      if (spec.name !== "help") expect(readme).toContain(`\`${flagLabel(spec)}\``);
  });
});
