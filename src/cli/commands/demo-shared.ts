import { spawn } from "node:child_process";
import { ownFile } from "../../core/own-files.js";

/** The pieces the steps of `docbatch demo` share. */

export const CLI = ownFile("cli/main.js");
export const EXAMPLE = ownFile("../examples/input_example.json");

export interface ExampleDocument {
  id?: string;
  source?: string;
  content?: string;
  path?: string;
  metadata?: Record<string, unknown>;
}

/** The demonstration's folder, its output, and what every step needs to know. */
export interface Demo {
  dir: string;
  db: string;
  /** The folder the user asked to keep, or undefined for a temporary one. */
  kept: string | undefined;
  color: boolean;
  documents: ExampleDocument[];
  say(text: string): void;
  heading(text: string): void;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const done = new Promise<Finished>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}
