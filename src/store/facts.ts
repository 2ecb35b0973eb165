import { NumberList } from "../core/stats.js";
import type { DocumentFacts } from "./store.js";

const STAGES = ["parse", "clean", "chunk", "embed", "write"] as const;

/**
 * Accumulates the columns of settled documents, row by row, into the typed arrays of
 * DocumentFacts. Both stores feed it the same columns (FACT_COLUMNS):
 * failed (1 or 0), duration_ms, committed_at, run, parse_ms, clean_ms, chunk_ms, embed_ms, write_ms.
 */
export class FactsBuilder {
  private readonly durations = new NumberList();
  private readonly stages = STAGES.map(() => new NumberList());
  private readonly commits = new NumberList();

  constructor(private readonly origin: number) {}

  add(row: ArrayLike<unknown>): void {
    const failed = row[0] === 1;
    const duration = row[1] as number | null;
    if (duration !== null) this.durations.push(duration);
    if (failed) return;
    const committed = row[2] as number | null;
    if (committed !== null) {
      this.commits.push(
        Math.max(0, committed - this.origin) * 65_536 + (((row[3] as number | null) ?? 0) & 0xffff),
      );
    }
    for (let i = 0; i < STAGES.length; i++) {
      const ms = row[4 + i] as number | null;
      if (ms !== null) this.stages[i]!.push(ms);
    }
  }

  /** The columns gathered so far, e.g. by one of several readers of a large batch. */
  columns(): FactColumns {
    return {
      durations: this.durations.values(),
      stages: STAGES.map((_, i) => this.stages[i]!.values()),
      commits: this.commits.values(),
    };
  }

  build(
    sums: { retries: number; reexecuted: number; executions: number },
    degradedByReason: Record<string, number>,
    parts: FactColumns[] = [this.columns()],
  ): DocumentFacts {
    return {
      ...sums,
      degradedByReason,
      durations: concat(parts.map((p) => p.durations)),
      stages: Object.fromEntries(
        STAGES.map((s, i) => [s, concat(parts.map((p) => p.stages[i]!))]),
      ) as DocumentFacts["stages"],
      commits: concat(parts.map((p) => p.commits)),
    };
  }
}

/** The typed arrays of FactsBuilder, in STAGES order; the order of documents is immaterial. */
export interface FactColumns {
  durations: Float64Array;
  stages: Float64Array[];
  commits: Float64Array;
}

function concat(arrays: Float64Array[]): Float64Array {
  if (arrays.length === 1) return arrays[0]!;
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

export const FACT_COLUMNS =
  // A number, not the state's text: reading a million strings is a quarter of a report's time.
  "CASE WHEN state = 'failed' THEN 1 ELSE 0 END, duration_ms, committed_at, run, parse_ms, clean_ms, chunk_ms, embed_ms, write_ms";
