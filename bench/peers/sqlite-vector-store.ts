/**
 * A LangChain `VectorStore` kept in one SQLite table (better-sqlite3), for the LangChain peer of
 * `bench/peers.ts`. `index()` needs a store that persists (else a killed run would leave the record
 * manager saying "indexed" about vectors that are gone) and that honours the `ids` it passes to
 * `addDocuments` and `delete` (its cleanup deletes by those ids). @langchain/community has no such
 * SQLite store: `LibSQLVectorStore` ignores `ids` and deletes by rowid. So this is the small store a
 * LangChain user would write: an upsert by id, a delete by id, and a brute-force similarity search.
 */

import { Document, type DocumentInterface } from "@langchain/core/documents";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { VectorStore } from "@langchain/core/vectorstores";
import Database from "better-sqlite3";
import { vectorBlob } from "./shared.js";

export interface SQLiteVectorStoreArgs {
  /** The SQLite file. */
  file: string;
  /** @default "vectors" */
  table?: string;
  /** A metadata field copied to an indexed `source_id` column, to find a source's rows. */
  sourceIdKey?: string;
}

export class SQLiteVectorStore extends VectorStore {
  declare FilterType: string;
  private readonly db: Database.Database;
  private readonly table: string;
  private readonly sourceIdKey: string | undefined;

  _vectorstoreType(): string {
    return "sqlite";
  }

  constructor(embeddings: EmbeddingsInterface, args: SQLiteVectorStoreArgs) {
    super(embeddings, args);
    this.table = args.table ?? "vectors";
    this.sourceIdKey = args.sourceIdKey;
    this.db = new Database(args.file);
    this.db.pragma("journal_mode = WAL");
    this.db.exec(`CREATE TABLE IF NOT EXISTS "${this.table}" (
      id TEXT PRIMARY KEY,
      source_id TEXT,
      content TEXT NOT NULL,
      metadata TEXT NOT NULL,
      embedding BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS "${this.table}_source" ON "${this.table}" (source_id);`);
  }

  async addDocuments(documents: DocumentInterface[], options?: { ids?: string[] }): Promise<string[]> {
    const vectors = await this.embeddings.embedDocuments(documents.map((d) => d.pageContent));
    return this.addVectors(vectors, documents, options);
  }

  async addVectors(
    vectors: number[][],
    documents: DocumentInterface[],
    options?: { ids?: string[] },
  ): Promise<string[]> {
    const ids = options?.ids ?? documents.map((d) => d.id ?? crypto.randomUUID());
    const upsert = this.db.prepare(
      `INSERT OR REPLACE INTO "${this.table}" (id, source_id, content, metadata, embedding) VALUES (?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      documents.forEach((doc, i) => {
        const source = this.sourceIdKey ? doc.metadata[this.sourceIdKey] : undefined;
        upsert.run(
          ids[i],
          source === undefined ? null : String(source),
          doc.pageContent,
          JSON.stringify(doc.metadata),
          vectorBlob(vectors[i]!),
        );
      });
    })();
    return ids;
  }

  override async delete(params?: { ids?: string[] }): Promise<void> {
    const ids = params?.ids ?? [];
    const remove = this.db.prepare(`DELETE FROM "${this.table}" WHERE id = ?`);
    this.db.transaction(() => {
      for (const id of ids) remove.run(id);
    })();
  }

  async similaritySearchVectorWithScore(query: number[], k: number): Promise<[DocumentInterface, number][]> {
    const rows = this.db.prepare(`SELECT id, content, metadata, embedding FROM "${this.table}"`).all() as {
      id: string;
      content: string;
      metadata: string;
      embedding: Buffer;
    }[];
    const scored = rows.map((row) => {
      const v = new Float32Array(row.embedding.buffer, row.embedding.byteOffset, row.embedding.length / 4);
      let dot = 0;
      let a = 0;
      let b = 0;
      for (let i = 0; i < v.length; i++) {
        dot += v[i]! * (query[i] ?? 0);
        a += v[i]! * v[i]!;
        b += (query[i] ?? 0) ** 2;
      }
      return { row, score: dot / (Math.sqrt(a * b) || 1) };
    });
    scored.sort((x, y) => y.score - x.score);
    return scored
      .slice(0, k)
      .map(({ row, score }) => [
        new Document({ id: row.id, pageContent: row.content, metadata: JSON.parse(row.metadata) }),
        score,
      ]);
  }

  close(): void {
    this.db.close();
  }
}
