import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/cli.js";

describe("docbatch demo", () => {
  it("runs the whole demonstration from any folder in under a minute, every line measured and ticked", async () => {
    const cwd = tempDir("docbatch-demo-cwd-");
    const started = Date.now();
    const result = await runCli(["demo"], { cwd });
    const elapsed = Date.now() - started;
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(elapsed).toBeLessThan(60_000);
    const out = result.stdout;
    expect(out).toContain("1. First run, killed with SIGKILL midway");
    expect(out).toMatch(/killed after \d+ of 128 documents/);
    expect(out).toMatch(/\{"error":\{"code":"INVALID_INPUT"/);
    const checks = out.split("\n").filter((l) => /^ {2}[✔✘] /.test(l));
    expect(checks).toHaveLength(10);
    expect(checks.filter((l) => l.includes("✘"))).toEqual([]);
    const html = out.trim().split("\n").at(-1)!.trim();
    expect(html.endsWith("report.html")).toBe(true);
    expect(fs.readFileSync(html, "utf8")).toContain("<svg");
    expect(fs.readdirSync(cwd)).toEqual([]);
  }, 90_000);

  it("crosses a line when a threshold is broken on purpose, and exits 1", async () => {
    const dir = tempDir("docbatch-demo-dir-");
    const result = await runCli(["demo", "--dir", dir, "--threshold", "fail=0,resume_ms=0"]);
    expect(result.code).toBe(1);
    const crossed = result.stdout.split("\n").filter((l) => /^ {2}✘ /.test(l));
    expect(crossed).toHaveLength(2);
    expect(crossed[0]).toMatch(/fail rate <= 0\.00%\s+0\.78%/);
    expect(crossed[1]).toMatch(/resume time <= 0 s\s+\d+ ms/);
    expect(fs.existsSync(`${dir}/report.html`)).toBe(true);
  }, 90_000);
});
