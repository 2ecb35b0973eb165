import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CLI = path.join(ROOT, "dist", "cli", "main.js");
export const RESULTS = path.join(ROOT, "bench", "results");

export const quick = process.argv.includes("--quick");

/** A scratch folder, removed when the scenario's process exits (corpora and stores are large). */
export function tempDir(prefix = "docbatch-bench-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Facts about the machine, written next to every result. */
export function machine() {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "unknown",
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

/** Writes `bench/results/<name>.json` and `.md` and prints the table. */
export function writeResult(name: string, data: Record<string, unknown>, table: Table): void {
  fs.mkdirSync(RESULTS, { recursive: true });
  const json = { scenario: name, mode: quick ? "quick" : "full", machine: machine(), ...data };
  fs.writeFileSync(path.join(RESULTS, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const md = [
    `### ${table.title}`,
    "",
    `| ${table.columns.join(" | ")} |`,
    `|${table.columns.map(() => "---").join("|")}|`,
    ...table.rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    ...(table.notes ?? []).map((n) => `- ${n}`),
    "",
    `_${json.mode} mode, ${json.machine.cpus} × ${json.machine.cpu}, Node ${json.machine.node}, ${json.machine.date}_`,
    "",
  ].join("\n");
  fs.writeFileSync(path.join(RESULTS, `${name}.md`), md);
  process.stdout.write(`\n${md}\n`);
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** Peak resident set size in MB (VmHWM polled from /proc). */
  peakRssMb: number;
  stdout: string;
  stderr: string;
}

/** Runs a command as a child process; measures its wall time and peak RSS. `onTick` may kill it. */
export function measure(
  command: string,
  args: string[],
  onTick?: (child: ChildProcess) => void,
  env: NodeJS.ProcessEnv = {},
): Promise<Measured> {
  const started = performance.now();
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  let peakKb = 0;
  const timer = setInterval(() => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
      peakKb = Math.max(peakKb, Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0));
    } catch {
      // The process has exited.
    }
    onTick?.(child);
  }, 20);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearInterval(timer);
      resolve({
        code,
        signal,
        wallMs: performance.now() - started,
        peakRssMb: Math.round(peakKb / 1024),
        stdout,
        stderr,
      });
    });
  });
}

/** `node dist/cli/main.js ...args` measured. */
export function docbatch(args: string[], onTick?: (child: ChildProcess) => void): Promise<Measured> {
  return measure(process.execPath, [CLI, ...args], onTick);
}

/** A TypeScript bench script under tsx, measured. */
export function script(file: string, args: string[]): Promise<Measured> {
  return measure(process.execPath, ["--import", "tsx", path.join(ROOT, "bench", file), ...args]);
}

/** One thread's CPU time over a run (bench/thread-cpu.mjs says what the kinds are). */
export interface ThreadCpu {
  thread: string;
  /** When it started, from the first thread's start. */
  started_ms: number;
  life_ms: number;
  cpu_ms: number;
}

/**
 * `node …nodeArgs` run once with bench/thread-cpu.mjs preloaded (Linux): its wall time and the CPU
 * time of each JavaScript thread, in order of start, then `runtime` (V8's and libuv's own threads:
 * what the process spent beyond them). Empty where /proc is not there.
 */
export async function cpuByThread(nodeArgs: string[]): Promise<{ measured: Measured; threads: ThreadCpu[] }> {
  const dir = tempDir("docbatch-thread-cpu-");
  const preload = path.join(ROOT, "bench", "thread-cpu.mjs");
  const measured = await measure(process.execPath, ["--import", preload, ...nodeArgs], undefined, {
    THREAD_CPU_DIR: dir,
  });
  type Entry = { thread: string; started_at: number; life_ms: number; user_ms: number; system_ms: number };
  const entries = fs
    .readdirSync(dir)
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as Entry & { process?: Entry })
    .sort((a, b) => a.started_at - b.started_at);
  fs.rmSync(dir, { recursive: true, force: true });
  const main = entries.find((e) => e.thread === "main");
  if (!main?.process) return { measured, threads: [] };
  const origin = entries[0]!.started_at;
  const threads = entries.map((e) => ({
    thread: e.thread,
    started_ms: e.started_at - origin,
    life_ms: e.life_ms,
    cpu_ms: e.user_ms + e.system_ms,
  }));
  const accounted = threads.reduce((sum, t) => sum + t.cpu_ms, 0);
  const total = main.process.user_ms + main.process.system_ms;
  threads.push({
    thread: "runtime",
    started_ms: 0,
    life_ms: main.life_ms,
    cpu_ms: Math.max(0, total - accounted),
  });
  return { measured, threads };
}

/** The smallest of the values: on a shared machine, the least disturbed run. */
export function best(values: number[]): number {
  return Math.min(...values);
}
