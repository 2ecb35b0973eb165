import { NumberList } from "../core/stats.js";
import type { DocumentFacts } from "./store.js";

const STAGES = ["parse", "clean", "chunk", "embed", "write"] as const;

/**
 * Accumulates the columns of settled documents, row by row, into the typed arrays of
 * DocumentFacts. Both stores feed it the same columns:
 * state, duration_ms, committed_at, run, parse_ms, clean_ms, chunk_ms, embed_ms, write_ms.
 */
export class FactsBuilder {
  private readonly durations = new NumberList();
  private readonly stages = STAGES.map(() => new NumberList());
  private readonly commits = new NumberList();

  constructor(private readonly origin: number) {}

  add(row: ArrayLike<unknown>): void {
    const state = row[0] as string;
    const duration = row[1] as number | null;
    if (duration !== null) this.durations.push(duration);
    if (state === "failed") return;
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

  build(
    sums: { retries: number; reexecuted: number; executions: number },
    degradedByReason: Record<string, number>,
  ): DocumentFacts {
    return {
      ...sums,
      degradedByReason,
      durations: this.durations.values(),
      stages: Object.fromEntries(
        STAGES.map((s, i) => [s, this.stages[i]!.values()]),
      ) as DocumentFacts["stages"],
      commits: this.commits.values(),
    };
  }
}

export const FACT_COLUMNS =
  "state, duration_ms, committed_at, run, parse_ms, clean_ms, chunk_ms, embed_ms, write_ms";
