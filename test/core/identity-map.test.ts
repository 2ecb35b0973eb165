import { describe, expect, it } from "vitest";
import { Hash64Builder, hash64, IdentityMap } from "../../src/core/identity-map.js";

describe("hash64", () => {
  it("gives the same bits fed in parts as for the parts joined", () => {
    const parts = ["markdown", "\u0000", '{"lang":"zh"}', "\u0000", "content:", "第一句。😀 ".repeat(50)];
    const built = parts.reduce((h, p) => h.update(p), new Hash64Builder()).digest();
    expect(built).toEqual(hash64(parts.join("")));
    expect(new Hash64Builder().digest()).toEqual(hash64(""));
  });

  it("keeps the values of earlier versions (fault seeds and lock keys depend on them)", () => {
    expect(hash64("")).toEqual({ hi: 4268375826, lo: 151197885 });
    expect(hash64("docbatch")).toEqual({ hi: 1531753694, lo: 9641815 });
  });

  it("tells contents apart that differ by one character or by where the parts end", () => {
    expect(hash64("content:a")).not.toEqual(hash64("content:b"));
    const ab = new Hash64Builder().update("a").update("\u0000").update("b").digest();
    const aB = new Hash64Builder().update("a\u0000").update("").update("c").digest();
    expect(ab).not.toEqual(aB);
  });
});

describe("IdentityMap", () => {
  it("finds the first entry of a key, with its position, across growth", () => {
    const map = new IdentityMap(16);
    for (let i = 0; i < 1000; i++) expect(map.putIfAbsent(hash64(`id${i}`), hash64(`v${i}`), i)).toBeNull();
    expect(map.size).toBe(1000);
    expect(map.putIfAbsent(hash64("id500"), hash64("other"), 2000)).toEqual({
      value: hash64("v500"),
      position: 500,
    });
  });
});
