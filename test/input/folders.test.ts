import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/core/backoff.js";
import { jsonLines, runCli, tempDir } from "../helpers/cli.js";

const SEED = Number(process.env.DOCBATCH_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`folders.test: seed ${SEED} (replay with DOCBATCH_TEST_SEED=${SEED})`);

/** Files that are not documents, each one of a kind docbatch must recognise. */
const NON_DOCUMENTS: { name: string; bytes: Buffer; kind: string }[] = [
  {
    name: "photo.png",
    bytes: Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(64, 7)]),
    kind: "image",
  },
  {
    name: "scan.jpg",
    bytes: Buffer.concat([Buffer.from("ffd8ffe0", "hex"), Buffer.alloc(64, 1)]),
    kind: "image",
  },
  { name: "logo.gif", bytes: Buffer.from("GIF89a\u0001\u0000\u0001\u0000"), kind: "image" },
  { name: "bundle.tar.gz", bytes: gzipSync("hello archive"), kind: "archive" },
  {
    name: "site.zip",
    bytes: Buffer.concat([Buffer.from("504b0304", "hex"), Buffer.alloc(40)]),
    kind: "archive",
  },
  { name: "tool.exe", bytes: Buffer.concat([Buffer.from("MZ"), Buffer.alloc(60)]), kind: "executable" },
  { name: "font.woff2", bytes: Buffer.concat([Buffer.from("wOF2"), Buffer.alloc(30, 3)]), kind: "font" },
  // No telling extension: recognised by their first bytes.
  {
    name: "blob-no-extension",
    bytes: Buffer.concat([Buffer.from("7f454c46", "hex"), Buffer.alloc(60)]),
    kind: "executable",
  },
  {
    name: "picture.data1",
    bytes: Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(32)]),
    kind: "image",
  },
  { name: "cache.bin1", bytes: Buffer.from([1, 2, 0, 0, 5, 0, 9, 0, 0, 0, 4, 0]), kind: "binary" },
];

function writeFile(root: string, rel: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), data);
}

/** A folder as people have it: documents, images, archives and editor droppings, at random depths. */
function realFolder(root: string) {
  const random = seededRandom(SEED);
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;
  const dirs = ["", "docs/", "docs/guide/", "notes/2024/", "assets/"];
  const documents: string[] = [];
  const count = 12 + Math.floor(random() * 20);
  for (let i = 0; i < count; i++) {
    const ext = pick([".md", ".txt", ".html", ""]);
    const rel = `${pick(dirs)}doc-${i}${ext}`;
    const body =
      ext === ".html" ? `<p>Paragraph marker${i} of a page.</p>` : `Paragraph marker${i} of a note.\n`;
    writeFile(root, rel, body);
    documents.push(rel);
  }
  const skipped = NON_DOCUMENTS.map((f) => ({ ...f, rel: `${pick(dirs)}${f.name}` }));
  for (const f of skipped) writeFile(root, f.rel, f.bytes);
  const excluded = ["draft.tmp", "docs/~lock.tmp", "notes/2024/deep/er/scratch.tmp"];
  for (const rel of excluded) writeFile(root, rel, "temporary words that must not be indexed\n");
  return { documents, skipped, excluded };
}

describe("folders as people have them", () => {
  it("skips images, archives and executables, honours --exclude, and exits 0 with nothing failed", async () => {
    const dir = tempDir("docbatch-folder-");
    const root = path.join(dir, "my corpus");
    const { documents, skipped, excluded } = realFolder(root);
    const db = path.join(dir, "s.db");
    const args = ["run", root, "--db", db, "--exclude", "**/*.tmp", "--no-progress", "--json"];
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    // A readable id from the folder's name.
    expect(report.batch_id).toBe("my_corpus");
    expect(report.counts).toMatchObject({
      total: documents.length,
      done: documents.length,
      failed: 0,
      skipped_unsupported: NON_DOCUMENTS.length,
    });

    const status = await runCli(["status", "--db", db, "--json"]);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain("docbatch: batch my_corpus (the store's only batch)");
    const listed = JSON.parse(status.stdout).skipped_files as { path: string; kind: string }[];
    expect(listed).toEqual(
      skipped.map((f) => ({ path: f.rel, kind: f.kind })).sort((a, b) => (a.path < b.path ? -1 : 1)),
    );

    const exported = jsonLines((await runCli(["export", "--db", db])).stdout);
    const ids = new Set(exported.map((r) => r.doc_id));
    expect([...ids].sort()).toEqual([...documents].sort());
    for (const rel of [...excluded, ...skipped.map((f) => f.rel)]) expect(ids.has(rel)).toBe(false);
    expect(exported.some((r) => String(r.text).includes("temporary words"))).toBe(false);

    // A scheduled re-run finds nothing to do, and still exits 0.
    const again = await runCli(args);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).counts).toMatchObject({
      failed: 0,
      skipped_unsupported: NON_DOCUMENTS.length,
    });
  });

  it("reads .docbatchignore (gitignore syntax) and --include; a document extension that is not text fails", async () => {
    const dir = tempDir("docbatch-folder-");
    const root = path.join(dir, "kb");
    writeFile(root, ".docbatchignore", "# drafts stay out\ndrafts/\n*.bak\n!keep.bak\n");
    writeFile(root, "guide/intro.md", "# Intro\n\nWelcome words.\n");
    writeFile(root, "guide/setup.txt", "Setup words.\n");
    writeFile(root, "drafts/idea.md", "A draft.\n");
    writeFile(root, "old.bak", "backup\n");
    writeFile(root, "keep.bak", "kept backup\n");
    writeFile(root, "broken.txt", Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(64)]));
    writeFile(root, ".git/objects/ab/cdef", gzipSync("a git object"));
    const db = path.join(dir, "s.db");

    const all = await runCli(["run", root, "--db", db, "--no-progress", "--json"]);
    // broken.txt fails: 3 of 4 complete is below 99%.
    expect(all.code).toBe(3);
    const ids = jsonLines((await runCli(["export", "--db", db])).stdout).map((r) => r.doc_id);
    expect([...new Set(ids)].sort()).toEqual(["guide/intro.md", "guide/setup.txt", "keep.bak"]);
    const status = JSON.parse((await runCli(["status", "--db", db, "--json"])).stdout);
    // The user called it text: it is a document, and it cannot be read.
    expect(status.failed_documents).toEqual([
      expect.objectContaining({
        id: "broken.txt",
        last_error: expect.objectContaining({ code: "UNREADABLE" }),
      }),
    ]);

    const only = await runCli([
      "run",
      root,
      "--db",
      db,
      "--batch-id",
      "md-only",
      "--include",
      "**/*.md",
      "--no-progress",
      "--json",
    ]);
    expect(only.code).toBe(0);
    const mdIds = jsonLines((await runCli(["export", "--db", db, "--batch-id", "md-only"])).stdout).map(
      (r) => r.doc_id,
    );
    expect([...new Set(mdIds)]).toEqual(["guide/intro.md"]);
  });

  it("filters and skips `path` documents of a JSON input the same way", async () => {
    const dir = tempDir("docbatch-folder-");
    writeFile(dir, "files/a.md", "Alpha words.\n");
    writeFile(dir, "files/b.tmp", "Scratch words.\n");
    writeFile(dir, "files/c.png", NON_DOCUMENTS[0]!.bytes);
    writeFile(dir, "files/d.dat1", NON_DOCUMENTS[9]!.bytes);
    fs.writeFileSync(
      path.join(dir, "input.json"),
      JSON.stringify({
        documents: [
          { id: "a", path: "files/a.md" },
          { id: "b", path: "files/b.tmp" },
          { id: "c", path: "files/c.png" },
          { id: "d", path: "files/d.dat1", format: "text" },
        ],
      }),
    );
    const db = path.join(dir, "s.db");
    const result = await runCli([
      "run",
      path.join(dir, "input.json"),
      "--db",
      db,
      "--exclude",
      "*.tmp",
      "--no-progress",
      "--json",
    ]);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout);
    expect(report.batch_id).toBe("input");
    // a is done; b excluded; c skipped; d was given a format, so it is read as text and fails.
    expect(report.counts).toMatchObject({ total: 2, done: 1, failed: 1, skipped_unsupported: 1 });
  });
});

describe("text that is not UTF-8", () => {
  it("decodes Windows-1252, Latin-1 and UTF-16 files and records their encoding", async () => {
    const dir = tempDir("docbatch-encodings-");
    const root = path.join(dir, "letters");
    const french = "Le café était fermé. Où est la bibliothèque ? Je préfère les crêpes à la crème.";
    const quotes = "He said “naïve” – not ‘rude’ – and paid 5 € for the façade’s œuvre.";
    const german = "Die Straße ist schön. Grüße aus München, wir würden gern über die Brücke fahren.";
    const cp1252 = (text: string) =>
      Buffer.from(
        [...text].map((ch) => {
          const special: Record<string, number> = {
            "€": 0x80,
            "‘": 0x91,
            "’": 0x92,
            "“": 0x93,
            "”": 0x94,
            "–": 0x96,
            œ: 0x9c,
          };
          return special[ch] ?? ch.charCodeAt(0);
        }),
      );
    writeFile(root, "windows.txt", cp1252(`${french}\n${quotes}\n`));
    writeFile(root, "latin1.txt", Buffer.from(`${german}\n`, "latin1"));
    writeFile(
      root,
      "utf16le.txt",
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${german} 日本語\n`, "utf16le")]),
    );
    const be = Buffer.from(`${french}\n`, "utf16le").swap16();
    writeFile(root, "utf16be.md", Buffer.concat([Buffer.from([0xfe, 0xff]), be]));
    writeFile(root, "utf8.txt", `${quotes}\n`);
    const db = path.join(dir, "s.db");
    const result = await runCli(["run", root, "--db", db, "--no-progress", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).counts).toMatchObject({ done: 5, failed: 0 });
    const rows = jsonLines((await runCli(["export", "--db", db])).stdout);
    const byId = Object.fromEntries(rows.map((r) => [r.doc_id as string, r]));
    expect(byId["windows.txt"]).toMatchObject({
      text: `${french}\n${quotes}`,
      metadata: { encoding: "windows-1252" },
    });
    expect(byId["latin1.txt"]).toMatchObject({ text: german, metadata: { encoding: "ISO-8859-1" } });
    expect(byId["utf16le.txt"]).toMatchObject({
      text: `${german} 日本語`,
      metadata: { encoding: "UTF-16LE" },
    });
    expect(byId["utf16be.md"]).toMatchObject({ text: french, metadata: { encoding: "UTF-16BE" } });
    // UTF-8 files carry no encoding: their keys stay what they were.
    expect(byId["utf8.txt"]).toMatchObject({ text: quotes, metadata: {} });
  });
});
