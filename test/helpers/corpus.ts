import fs from "node:fs";
import path from "node:path";
import { seededRandom } from "../../src/core/backoff.js";
import { tempDir } from "./cli.js";
import { testSeed } from "./seed.js";

/**
 * Deterministic test corpora: documents of every format and of mixed sizes, in English and
 * Chinese, where every paragraph carries a unique marker word. A test can then prove from the
 * export alone that no paragraph was lost, and that script/style text never leaked.
 */

export interface CorpusDocument {
  id: string;
  source: string;
  format: "text" | "markdown" | "html" | "json";
  content: string;
  metadata: Record<string, unknown>;
  /** Marker words that must all appear in the document's chunks. */
  markers: string[];
}

export const FORBIDDEN = ["SCRIPTLEAK", "STYLELEAK"];

const EN = [
  "The ingestion service reads every document once and records its progress.",
  "Retries use exponential backoff with jitter so that a sick dependency can recover.",
  "Each chunk keeps the metadata of its document for filtering at query time.",
  "Operators watch throughput, latency percentiles and the failure breakdown.",
  "A checkpoint is written in the same transaction as the output it describes.",
  "Large manuals are split by headings first, then by paragraphs and sentences.",
  "The embedding endpoint may answer slowly, refuse requests or drop connections!",
  "Why would a document be processed twice? Only when its output was never committed.",
];
const ZH = [
  "批处理任务会记录每个文档的状态。",
  "失败的请求会按照指数退避重试！",
  "检查点与输出在同一个事务中提交。",
  "为什么需要幂等键？因为重跑不能产生重复数据。",
  "大型文档会先按标题切分，再按段落和句子切分。",
];

export interface CorpusOptions {
  count: number;
  seed?: number;
  /** Share of documents between 50 and 200 KB. @default 0.01 */
  largeShare?: number;
}

export function makeCorpus(options: CorpusOptions): CorpusDocument[] {
  const random = seededRandom(options.seed ?? 7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const docs: CorpusDocument[] = [];
  const formats = ["text", "markdown", "html", "json"] as const;
  for (let i = 0; i < options.count; i++) {
    const format = formats[i % formats.length]!;
    const large = random() < (options.largeShare ?? 0.01);
    const targetBytes = large ? 50_000 + Math.floor(random() * 150_000) : 40 + Math.floor(random() * 6_000);
    const chinese = i % 5 === 0;
    const markers: string[] = [];
    const paragraphs: string[] = [];
    let size = 0;
    for (let p = 0; size < targetBytes || p === 0; p++) {
      const marker = `mk${i.toString(36)}x${p.toString(36)}q`;
      markers.push(marker);
      const sentences = 1 + Math.floor(random() * (large ? 8 : 4));
      const words: string[] = [];
      for (let s = 0; s < sentences; s++) words.push(chinese ? pick(ZH) : pick(EN));
      words.splice(Math.floor(random() * (words.length + 1)), 0, chinese ? ` ${marker} ` : marker);
      const paragraph = words.join(chinese ? "" : " ");
      paragraphs.push(paragraph);
      size += Buffer.byteLength(paragraph);
    }
    docs.push({
      id: `doc-${String(i).padStart(6, "0")}`,
      source: i % 3 === 0 ? "wiki" : "helpdesk",
      format,
      content: render(format, paragraphs, i),
      metadata: { n: i, lang: chinese ? "zh" : "en" },
      markers,
    });
  }
  return docs;
}

function render(format: CorpusDocument["format"], paragraphs: string[], i: number): string {
  if (format === "text") return paragraphs.join("\n\n");
  if (format === "markdown") {
    return paragraphs.map((p, k) => (k % 4 === 0 ? `## Section ${k}\n\n${p}` : p)).join("\n\n");
  }
  if (format === "html") {
    const body = paragraphs
      .map((p, k) => (k % 5 === 0 ? `<h2>Part ${k}</h2><p>${escapeHtml(p)}</p>` : `<p>${escapeHtml(p)}</p>`))
      .join("\n");
    return (
      `<!doctype html><html><head><title>Doc ${i}</title><style>.x{content:"STYLELEAK"}</style>` +
      `<script>var a = "SCRIPTLEAK";</script></head><body>${body}<script>track("SCRIPTLEAK")</script></body></html>`
    );
  }
  return JSON.stringify({ title: `Record ${i}`, sections: paragraphs.map((text, k) => ({ k, text })) });
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function writeJsonl(file: string, docs: CorpusDocument[]): void {
  const fd = fs.openSync(file, "w");
  for (const d of docs) {
    fs.writeSync(
      fd,
      `${JSON.stringify({ id: d.id, source: d.source, format: d.format, content: d.content, metadata: d.metadata })}\n`,
    );
  }
  fs.closeSync(fd);
}

/** A corpus written to `corpus.jsonl` in a fresh folder, and where its SQLite store goes. */
export interface CorpusOnDisk {
  dir: string;
  input: string;
  db: string;
  docs: CorpusDocument[];
  ids: string[];
}

export function corpusOnDisk(options: CorpusOptions, prefix?: string): CorpusOnDisk {
  const dir = tempDir(prefix);
  const input = path.join(dir, "corpus.jsonl");
  const docs = makeCorpus(options);
  writeJsonl(input, docs);
  return { dir, input, db: path.join(dir, "store.db"), docs, ids: docs.map((d) => d.id) };
}

/**
 * The corpus of a kill test: 2,000 documents (1 % large) drawn from the test's seed, and the
 * random source of its kills; the seed is printed (and replayed with DOCBATCH_TEST_SEED).
 */
export function killCorpus(name: string, prefix: string): CorpusOnDisk & { random: () => number } {
  const seed = testSeed(name);
  return {
    ...corpusOnDisk({ count: 2_000, seed: seed % 1000, largeShare: 0.01 }, prefix),
    random: seededRandom(seed),
  };
}
