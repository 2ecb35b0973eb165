import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  chunkKey,
  contentHash,
  idempotencyKey,
  missingContentHash,
  normalizeContent,
  normalizeId,
} from "../../src/core/keys.js";
import { itGives } from "../helpers/examples.js";

const HEX64 = /^[0-9a-f]{64}$/;
const LAYER = "v1|chunk=1000/0|embed=local:256";

/** Text built from the pieces normalization is about: line ends, BOMs, composed and decomposed marks. */
const tricky = fc
  .array(
    fc.oneof(
      fc.constantFrom("\r\n", "\r", "\n", "\ufeff", " ", "\t", "\u00a0"),
      fc.constantFrom(
        "e\u0301",
        "\u00e9",
        "\u212b",
        "A\u030a",
        "\u1100\u1161\u11a8",
        "o\u0308\u0304",
        "\u0301",
      ),
      fc.constantFrom("😀", "中文", "\ud800", "x"),
      fc.string({ unit: "binary", maxLength: 8 }),
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(""));

describe("normalizeId", () => {
  itGives(normalizeId, [
    [
      "applies Unicode NFC",
      [
        ["cafe\u0301", "caf\u00e9"],
        ["caf\u00e9", "caf\u00e9"],
        ["\u212b", "\u00c5"], // ANGSTROM SIGN -> A WITH RING
      ],
    ],
    [
      "removes surrounding whitespace only",
      [
        ["  doc-1\t\n", "doc-1"],
        ["\u00a0\u3000doc\u2003", "doc"],
        [" a  b ", "a  b"],
        ["   ", ""],
      ],
    ],
  ]);

  it("maps equivalent spellings to one id", () => {
    expect(normalizeId(" cafe\u0301 ")).toBe(normalizeId("caf\u00e9"));
  });

  it("is idempotent (property)", () => {
    fc.assert(
      fc.property(tricky, (s) => {
        const once = normalizeId(s);
        expect(normalizeId(once)).toBe(once);
        expect(normalizeId(` ${s}\n`)).toBe(once);
        expect(normalizeId(s.normalize("NFD"))).toBe(normalizeId(s.normalize("NFC")));
      }),
      { numRuns: 500 },
    );
  });
});

describe("normalizeContent", () => {
  itGives(normalizeContent, [
    [
      "turns CRLF and lone CR into LF",
      [
        ["a\r\nb\r\n", "a\nb\n"],
        ["a\rb\r", "a\nb\n"],
        ["a\r\n\rb\n\r\n", "a\n\nb\n\n"],
        ["\r\r\n", "\n\n"],
      ],
    ],
    [
      "removes a leading byte-order mark, and only a leading one",
      [
        ["\ufeffhello", "hello"],
        ["hel\ufefflo", "hel\ufefflo"],
        ["\ufeff", ""],
      ],
    ],
    [
      "applies Unicode NFC",
      [
        ["cafe\u0301", "caf\u00e9"],
        ["\ufeffcafe\u0301\r\n", "caf\u00e9\n"],
      ],
    ],
    [
      "keeps other whitespace and the empty string as they are",
      [
        ["  a \t\n\n ", "  a \t\n\n "],
        ["", ""],
      ],
    ],
  ]);

  it("is idempotent (property, inputs not starting with two BOMs)", () => {
    fc.assert(
      fc.property(tricky, (s) => {
        fc.pre(!s.startsWith("\ufeff\ufeff"));
        const once = normalizeContent(s);
        expect(normalizeContent(once)).toBe(once);
        expect(once).not.toContain("\r");
      }),
      { numRuns: 1000 },
    );
  });

  // A doubled BOM loses one BOM per call, so normalizing twice differs from normalizing once:
  // src/core/keys.ts normalizeContent strips a single leading U+FEFF.
  it("is idempotent on content starting with two BOMs", () => {
    const once = normalizeContent("\ufeff\ufeffx");
    expect(normalizeContent(once)).toBe(once);
  });

  it("is CRLF-, CR- and NFC/NFD-insensitive (property)", () => {
    fc.assert(
      fc.property(tricky, (raw) => {
        const lf = raw.replace(/\r/g, "");
        const expected = normalizeContent(lf);
        expect(normalizeContent(lf.replace(/\n/g, "\r\n"))).toBe(expected);
        expect(normalizeContent(lf.replace(/\n/g, "\r"))).toBe(expected);
        expect(normalizeContent(lf.normalize("NFD"))).toBe(normalizeContent(lf.normalize("NFC")));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("canonicalJson", () => {
  it("sorts object keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson({})).toBe("{}");
  });
});

describe("contentHash", () => {
  const text = normalizeContent("Hello, world.\n");

  it("is a stable sha256 hex digest", () => {
    const hash = contentHash("text", {}, text);
    expect(hash).toMatch(HEX64);
    expect(contentHash("text", {}, text)).toBe(hash);
  });

  it("is equal for content that differs only in CRLF/CR/BOM/NFC once normalized", () => {
    const base = contentHash("text", {}, normalizeContent("caf\u00e9\nline"));
    expect(contentHash("text", {}, normalizeContent("cafe\u0301\r\nline"))).toBe(base);
    expect(contentHash("text", {}, normalizeContent("\ufeffcaf\u00e9\rline"))).toBe(base);
  });

  it("differs by content, format and metadata", () => {
    const base = contentHash("text", { a: 1 }, text);
    expect(contentHash("text", { a: 1 }, `${text}!`)).not.toBe(base);
    expect(contentHash("markdown", { a: 1 }, text)).not.toBe(base);
    expect(contentHash("html", { a: 1 }, text)).not.toBe(base);
    expect(contentHash("json", { a: 1 }, text)).not.toBe(base);
    expect(contentHash("text", { a: 2 }, text)).not.toBe(base);
    expect(contentHash("text", { a: "1" }, text)).not.toBe(base);
    expect(contentHash("text", {}, text)).not.toBe(base);
    expect(contentHash("text", { a: 1, b: null }, text)).not.toBe(base);
  });

  it("ignores the key order of metadata, at every level", () => {
    const a = contentHash("text", { lang: "en", tags: { x: 1, y: [1, 2] }, n: 3 }, text);
    const b = contentHash("text", { n: 3, tags: { y: [1, 2], x: 1 }, lang: "en" }, text);
    expect(b).toBe(a);
    expect(contentHash("text", { n: 3, tags: { y: [2, 1], x: 1 }, lang: "en" }, text)).not.toBe(a);
  });

  it("does not mix up the boundaries between format, metadata and content", () => {
    expect(contentHash("text", {}, "{}x")).not.toBe(contentHash("text", {}, "x"));
  });
});

describe("idempotencyKey", () => {
  const hash = contentHash("text", {}, "body");

  it("is a stable sha256 hex digest", () => {
    const key = idempotencyKey("inline", "doc-1", hash, LAYER);
    expect(key).toMatch(HEX64);
    expect(idempotencyKey("inline", "doc-1", hash, LAYER)).toBe(key);
  });

  it("differs by source, id, content hash and layer", () => {
    const key = idempotencyKey("inline", "doc-1", hash, LAYER);
    const keys = [
      idempotencyKey("fs", "doc-1", hash, LAYER),
      idempotencyKey("inline", "doc-2", hash, LAYER),
      idempotencyKey("inline", "doc-1", contentHash("text", {}, "other"), LAYER),
      idempotencyKey("inline", "doc-1", contentHash("markdown", {}, "body"), LAYER),
      idempotencyKey("inline", "doc-1", contentHash("text", { k: "v" }, "body"), LAYER),
      idempotencyKey("inline", "doc-1", hash, `${LAYER}|v2`),
    ];
    expect(new Set([key, ...keys]).size).toBe(keys.length + 1);
  });

  it("is sha256 of the length-prefixed parts fed one by one, short or long, lone surrogates and all", () => {
    // Keys are stored: however they are computed, the bytes hashed never change.
    const byParts = (parts: string[]) => {
      const h = createHash("sha256");
      for (const part of parts) h.update(`${part.length}:`).update(part);
      return h.digest("hex");
    };
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (source, id) => {
        expect(idempotencyKey(source, id, hash, LAYER)).toBe(byParts([source, id, hash, LAYER]));
      }),
    );
    for (const id of ["a\ud800", "\udc00b", "\ud83d", "x".repeat(70_000)]) {
      expect(idempotencyKey("inline", id, hash, LAYER)).toBe(byParts(["inline", id, hash, LAYER]));
    }
  });

  it("is the same for inputs that differ only in id whitespace, NFC/NFD and CRLF", () => {
    const a = idempotencyKey(
      "inline",
      normalizeId(" cafe\u0301 "),
      contentHash("text", {}, normalizeContent("a\r\nb")),
      LAYER,
    );
    const b = idempotencyKey(
      "inline",
      normalizeId("caf\u00e9"),
      contentHash("text", {}, normalizeContent("a\nb")),
      LAYER,
    );
    expect(a).toBe(b);
  });

  it("does not shift parts across boundaries (source + id)", () => {
    expect(idempotencyKey("ab", "c", hash, LAYER)).not.toBe(idempotencyKey("a", "bc", hash, LAYER));
  });

  // Each part is length-prefixed (src/core/keys.ts sha256()), so a NUL inside source or id cannot
  // make two different (source, id) pairs hash the same key.
  it("keeps (source, id) pairs apart even when they contain NUL", () => {
    expect(idempotencyKey("a\u0000b", "c", hash, LAYER)).not.toBe(
      idempotencyKey("a", "b\u0000c", hash, LAYER),
    );
  });
});

describe("chunkKey", () => {
  const key = idempotencyKey("inline", "doc", contentHash("text", {}, "x"), LAYER);

  it("is the document key followed by the chunk index", () => {
    expect(chunkKey(key, 0)).toBe(`${key}:0`);
    expect(chunkKey(key, 12)).toBe(`${key}:12`);
  });

  it("is stable and distinct per index and per document", () => {
    expect(chunkKey(key, 3)).toBe(chunkKey(key, 3));
    const all = [0, 1, 2, 10, 11].map((i) => chunkKey(key, i));
    expect(new Set(all).size).toBe(all.length);
    const other = idempotencyKey("inline", "doc2", contentHash("text", {}, "x"), LAYER);
    expect(chunkKey(other, 0)).not.toBe(chunkKey(key, 0));
  });
});

/**
 * Pinned test vectors: known inputs and the keys they must give. Stored documents, sink rows and
 * change logs hold these keys; a change of the formula (a part added, a separator, the hash, the
 * normalization) re-keys every document, so it must show here and be made on purpose.
 */
describe("pinned key vectors", () => {
  const hello = contentHash("text", {}, normalizeContent("Hello, world.\n"));
  const cafe = contentHash(
    "markdown",
    { lang: "en", tags: ["a", "b"] },
    normalizeContent("\ufeff# Café\r\n\r\nBody"),
  );
  const empty = contentHash("text", {}, "");

  it("normalizes ids and content to known strings", () => {
    expect(normalizeId(" doc-1 ")).toBe("doc-1");
    expect(normalizeId("cafe\u0301.md")).toBe("caf\u00e9.md");
    expect(normalizeContent("\ufeff# Café\r\n\r\nBody")).toBe("# Caf\u00e9\n\nBody");
  });

  it("gives known content hashes", () => {
    expect(hello).toBe("e8cba6d604f534c0c8109186f4f48ecb68bb975c166b1fde261dd7062ab38940");
    expect(cafe).toBe("8c7ddbd1a18266f793dabacb210d51975c298259b7d66be9554275e724e3f796");
    expect(empty).toBe("c10f6c8484cc73ef9fda4ed9429c52ad6d9e0aa0bff70d630581a8f1b515b14d");
    expect(missingContentHash("NOT_FOUND")).toBe(
      "1c41ed5239a4cea7ca5f093f10d3fb095c1f3e141b7ce20bc0f548b3b3a08cfa",
    );
  });

  it("gives known idempotency keys and chunk keys", () => {
    const key = idempotencyKey("inline", normalizeId(" doc-1 "), hello, LAYER);
    expect(key).toBe("88808c7d64bc78afa3e1c1a42b59309e426f0da6e2c01d8efc9359bba44447ab");
    expect(idempotencyKey("fs", normalizeId("cafe\u0301.md"), cafe, LAYER)).toBe(
      "e49dbd98f2e46916086f741db023ba9b233defd84bf5ad5c5553b19910afe574",
    );
    expect(idempotencyKey("", "", empty, "")).toBe(
      "436595367d7a2d75f7ec6441c2acb7987430a3eef1ed472d3fe0b4147e653158",
    );
    expect(chunkKey(key, 0)).toBe("88808c7d64bc78afa3e1c1a42b59309e426f0da6e2c01d8efc9359bba44447ab:0");
    expect(chunkKey(key, 17)).toBe("88808c7d64bc78afa3e1c1a42b59309e426f0da6e2c01d8efc9359bba44447ab:17");
  });

  it("are the documented formula: sha256 over length-prefixed parts", () => {
    const reference = (parts: string[]) => {
      const hash = createHash("sha256");
      for (const part of parts) hash.update(`${part.length}:${part}`);
      return hash.digest("hex");
    };
    expect(reference(["text", "{}", "Hello, world.\n"])).toBe(hello);
    expect(reference(["markdown", '{"lang":"en","tags":["a","b"]}', "# Caf\u00e9\n\nBody"])).toBe(cafe);
    expect(reference(["inline", "doc-1", hello, LAYER])).toBe(
      idempotencyKey("inline", "doc-1", hello, LAYER),
    );
    expect(reference(["<missing>", "NOT_FOUND"])).toBe(missingContentHash("NOT_FOUND"));
  });
});
