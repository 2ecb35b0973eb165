import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IdentityMap } from "../../src/core/identity-map.js";
import { lineStartAfter } from "../../src/input/lines.js";
import { openInput } from "../../src/input/sources.js";
import { validateInput, validatePart } from "../../src/input/validate.js";
import { tempDir } from "../helpers/cli.js";

const dir = tempDir("docbatch-validate-part-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const doc = (id: string, content = `content of ${id}`) => JSON.stringify({ id, content });

/** Validates `file` in two parts split near its middle: the parts, and whether their ids agree. */
async function inHalves(file: string) {
  const source = await openInput(file);
  const middle = await lineStartAfter(file, Math.floor(fs.statSync(file).size / 2));
  expect(middle).not.toBeNull();
  const first = await validatePart(source, 0, middle!);
  const second = await validatePart(source, middle!, Number.POSITIVE_INFINITY);
  const agree = IdentityMap.fromTable(second.identities).agreesWith(first.identities);
  const sizes = [IdentityMap.fromTable(first.identities).size, IdentityMap.fromTable(second.identities).size];
  return { first, second, sizes, agree };
}

describe("a JSON Lines input validated in two parts", () => {
  it("holds every document once between the parts, as the whole validation counts them", async () => {
    const lines = Array.from({ length: 301 }, (_, i) => doc(`d${i % 250}`));
    lines.splice(100, 0, "", "   ");
    lines.push(JSON.stringify({ id: "p", path: "p.txt" }));
    const file = write("clean.jsonl", lines);
    fs.writeFileSync(path.join(dir, "p.txt"), "a file");
    const whole = await validateInput(await openInput(file));
    const { first, second, sizes, agree } = await inHalves(file);
    expect(first.clean && second.clean && agree).toBe(true);
    expect(whole.distinct).toBe(251);
    // Every distinct document is in one part at least; the 51 repeated ids may be in both.
    expect(sizes[0]! + sizes[1]!).toBeGreaterThanOrEqual(251);
    expect(sizes[0]! + sizes[1]!).toBeLessThanOrEqual(251 + 51);
    expect(first.hasPaths || second.hasPaths).toBe(whole.hasPaths);
    expect([first.hasPaths, second.hasPaths]).toEqual([false, true]);
  });

  it("says which part holds a problem, and finds a conflict between the parts when they merge", async () => {
    const lines = Array.from({ length: 200 }, (_, i) => doc(`d${i}`));
    lines[150] = "{not json";
    const broken = await inHalves(write("broken.jsonl", lines));
    expect([broken.first.clean, broken.second.clean]).toEqual([true, false]);

    const conflicting = Array.from({ length: 200 }, (_, i) => doc(`d${i}`));
    conflicting[180] = doc("d3", "another content");
    const conflict = await inHalves(write("conflict.jsonl", conflicting));
    expect([conflict.first.clean, conflict.second.clean, conflict.agree]).toEqual([true, true, false]);

    const repeated = Array.from({ length: 200 }, (_, i) => doc(`d${i}`));
    repeated[180] = doc("d3");
    const same = await inHalves(write("repeated.jsonl", repeated));
    expect([same.first.clean, same.second.clean, same.agree]).toEqual([true, true, true]);
    expect(same.sizes[0]! + same.sizes[1]!).toBe(200);
  });

  it("splits at the start of a line, and not at the last line or inside a line without its end", async () => {
    const file = write("three.jsonl", ["aaaa", "bbbb", "cc"]);
    expect(await lineStartAfter(file, 0)).toBe(5);
    expect(await lineStartAfter(file, 5)).toBe(10);
    expect(await lineStartAfter(file, 6)).toBe(10);
    expect(await lineStartAfter(file, 10)).toBeNull();
    const single = path.join(dir, "single.jsonl");
    fs.writeFileSync(single, "one line without its end");
    expect(await lineStartAfter(single, 3)).toBeNull();
  });
});
