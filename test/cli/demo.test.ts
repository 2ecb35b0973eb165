import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, runCli, tempDir } from "../helpers/cli.js";

describe("docbatch demo", () => {
  it("runs the whole demonstration from any folder, every line measured and ticked", async () => {
    const cwd = tempDir("docbatch-demo-cwd-");
    const started = Date.now();
    const result = await runCli(["demo"], { cwd });
    const elapsed = Date.now() - started;
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    // About 10 s on an idle machine; a bound here would only measure the other tests running.
    console.log(`demo took ${elapsed} ms`);
    const out = result.stdout;
    expect(out).toContain("1. First run, killed with SIGKILL midway");
    expect(out).toMatch(/killed after \d+ of 128 documents/);
    expect(out).toMatch(/\{"error":\{"code":"INVALID_INPUT"/);
    const checks = out.split("\n").filter((l) => /^ {2}[✔✘] /.test(l));
    expect(checks).toHaveLength(13);
    expect(checks.filter((l) => l.includes("✘"))).toEqual([]);
    // The incremental update and the search after it, measured like the rest.
    expect(out).toMatch(/plan: 0 new, 3 changed, \d+ unchanged, 1 deleted/);
    expect(out).toMatch(
      /plan shows the update and changes nothing\s+0 new, 3 changed, 1 deleted; store and service untouched/,
    );
    expect(out).toMatch(
      /the update embeds only the changed texts\s+\d+ texts sent for \d+ chunks of 3 changed documents; 1 deleted, gone from the export/,
    );
    expect(out).toMatch(/search finds the changed passage\s+top result kb-00[147]/);
    // Nothing left behind: not in the working folder, not the temporary store.
    expect(fs.readdirSync(cwd)).toEqual([]);
    const temp = /store and log in a temporary folder/.test(out);
    expect(temp).toBe(true);
    expect(out).toMatch(/demo --keep docbatch-demo/);
  }, 180_000);

  it("keeps the store with --keep DIR, and every command it prints works when pasted there", async () => {
    const cwd = tempDir("docbatch-demo-cwd-");
    // Started by path (not through npx): the commands it prints start docbatch the same way.
    const result = await runCli(["demo", "--keep", "kept demo"], { cwd, env: { npm_command: "" } });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    const start = lines.findIndex((l) => l.startsWith("Next: look around"));
    expect(start).toBeGreaterThan(0);
    const commands = lines
      .slice(start + 1)
      .filter((l) => /^ {2}\S/.test(l))
      .slice(0, 4)
      .map((l) => l.trim());
    expect(commands).toHaveLength(4);
    for (const command of commands) {
      expect(command).toContain("--db 'kept demo/demo.db'");
      expect(command.startsWith(`node ${path.relative(cwd, CLI)} `)).toBe(true);
      // As a user pastes it: through a shell, in the same folder, with the same way of starting docbatch.
      const pasted = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn("bash", ["-c", command], {
          cwd,
          env: { ...process.env, PATH: `${path.dirname(CLI)}:${process.env.PATH}` },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
      expect(pasted.code, `${command}\n${pasted.stderr}`).toBe(0);
      expect(pasted.stdout.length, command).toBeGreaterThan(0);
    }
    const html = lines
      .filter((l) => l.trim().endsWith("report.html"))
      .at(-1)!
      .trim();
    expect(fs.readFileSync(path.join(cwd, html), "utf8")).toContain("<svg");
  }, 180_000);

  it("crosses a line when a threshold is broken on purpose, and exits 1", async () => {
    const dir = tempDir("docbatch-demo-dir-");
    const result = await runCli(["demo", "--dir", dir, "--threshold", "fail=0,resume_ms=0"]);
    expect(result.code).toBe(1);
    const crossed = result.stdout.split("\n").filter((l) => /^ {2}✘ /.test(l));
    expect(crossed).toHaveLength(2);
    // One failed document of 127 (128 less the one the update deleted).
    expect(crossed[0]).toMatch(/fail rate <= 0\.00%\s+0\.79%/);
    expect(crossed[1]).toMatch(/resume time <= 0 s\s+\d+ ms/);
    expect(fs.existsSync(`${dir}/report.html`)).toBe(true);
  }, 180_000);
});
