import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { jsonWithVector, vectorJson, writeFloat32 } from "../../src/core/vector-json.js";

function text(x: number): string {
  const out = Buffer.alloc(32);
  return out.toString("latin1", 0, writeFloat32(out, 0, x));
}

describe("vectors as JSON", () => {
  it("gives every float32 back exactly, in at most nine significant digits", () => {
    const random = seededRandom(7);
    const bits = new Uint32Array(1);
    const float = new Float32Array(bits.buffer);
    let checked = 0;
    for (let i = 0; i < 300_000; i++) {
      bits[0] = Math.floor(random() * 2 ** 32);
      const x = float[0]!;
      if (!Number.isFinite(x)) continue;
      const s = text(x);
      const back = JSON.parse(s) as number;
      if (Math.fround(back) !== x) expect.fail(`${x} printed as ${s} reads back as ${back}`);
      const significant = s
        .replace(/^-/, "")
        .replace(/e.*$/, "")
        .replace(".", "")
        .replace(/^0+/, "")
        .replace(/0+$/, "");
      if (significant.length > 9) expect.fail(`${x} printed as ${s}: more than nine digits`);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(290_000);
  });

  it("prints the forms JavaScript prints, shorter", () => {
    const cases: [number, string][] = [
      [0, "0"],
      [-0, "0"],
      [1, "1"],
      [-2.5, "-2.5"],
      [0.1, "0.100000001"],
      [1234.5, "1234.5"],
      [1e-6, "9.99999997e-7"],
      [0.000123, "0.000123000005"],
      [16777216, "16777216"],
      [1e21, "1.00000002e+21"],
      [3.4028234663852886e38, "3.40282347e+38"],
      [1.401298464324817e-45, "1.40129846e-45"],
    ];
    for (const [x, want] of cases) expect(text(Math.fround(x)), String(x)).toBe(want);
    expect(text(Number.NaN)).toBe("null");
    expect(text(Number.POSITIVE_INFINITY)).toBe("null");
  });

  it("writes whole vectors and export lines that JSON.parse reads back", () => {
    const vector = Float32Array.from([0.25, -0.125, 0.1, 3e-9]);
    expect(JSON.parse(vectorJson(vector)).map(Math.fround)).toEqual(Array.from(vector));
    const row = { doc_id: "a", text: 'x\n"y"', embedding: Array.from(vector) };
    const line = jsonWithVector(row);
    expect(line.startsWith('{"doc_id":"a","text":"x\\n\\"y\\"","embedding":[0.25,')).toBe(true);
    expect(JSON.parse(line).embedding.map(Math.fround)).toEqual(Array.from(vector));
    expect(jsonWithVector({ doc_id: "b", embedding: null })).toBe('{"doc_id":"b","embedding":null}');
    expect(line.length).toBeLessThan(JSON.stringify(row).length);
  });
});
