import { NumberList } from "../core/stats.js";
import type { DocumentFacts } from "./store.js";

const STAGES = ["parse", "clean", "chunk", "embed", "write"] as const;

/**
 * Accumulates the columns of settled documents, row by row, into the typed arrays of
 * DocumentFacts. Both stores feed it the same columns (FACT_COLUMNS):
 * failed (1 or 0), duration_ms, committed_at, run, parse_ms, clean_ms, chunk_ms, embed_ms, write_ms.
 */
export class FactsBuilder {
  constructor(
    private readonly origin: number,
    private readonly durations: NumberSink = new NumberList(),
    private readonly stages: NumberSink[] = STAGES.map(() => new NumberList()),
    private readonly commits: NumberSink = new NumberList(),
  ) {}

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

  /**
   * A builder whose columns are written into shared buffers of `capacity` values each, from value
   * `offset` on: several readers of one large batch fill disjoint parts of the same arrays.
   */
  static into(origin: number, buffers: SharedFactBuffers, offset: number, capacity: number): FactsBuilder {
    const at = (buffer: SharedArrayBuffer) => new SlotList(new Float64Array(buffer, offset * 8, capacity));
    return new FactsBuilder(origin, at(buffers.durations), buffers.stages.map(at), at(buffers.commits));
  }

  /** How many values each column holds: durations, then the stages in order, then commits. */
  lengths(): number[] {
    return [this.durations.length, ...this.stages.map((s) => s.length), this.commits.length];
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

  /**
   * The facts from shared buffers filled by several readers, reader r from value r × `capacity`
   * with `lengths[r]` values per column: each column is compacted in place, nothing is copied out.
   */
  static gather(
    buffers: SharedFactBuffers,
    capacity: number,
    lengths: number[][],
    sums: { retries: number; reexecuted: number; executions: number },
    degradedByReason: Record<string, number>,
  ): DocumentFacts {
    const column = (buffer: SharedArrayBuffer, k: number) => {
      const all = new Float64Array(buffer);
      let end = 0;
      lengths.forEach((counts, r) => {
        all.copyWithin(end, r * capacity, r * capacity + counts[k]!);
        end += counts[k]!;
      });
      return all.subarray(0, end);
    };
    return {
      ...sums,
      degradedByReason,
      durations: column(buffers.durations, 0),
      stages: Object.fromEntries(
        STAGES.map((s, i) => [s, column(buffers.stages[i]!, 1 + i)]),
      ) as DocumentFacts["stages"],
      commits: column(buffers.commits, 1 + STAGES.length),
    };
  }
}

/** Where the columns go: a growing list, or a fixed slot of a shared buffer. */
interface NumberSink {
  readonly length: number;
  push(value: number): void;
  values(): Float64Array;
}

/** The columns of FactsBuilder as shared buffers, for readers on several threads. */
export interface SharedFactBuffers {
  durations: SharedArrayBuffer;
  stages: SharedArrayBuffer[];
  commits: SharedArrayBuffer;
}

export function sharedFactBuffers(values: number): SharedFactBuffers {
  const buffer = () => new SharedArrayBuffer(values * 8);
  return { durations: buffer(), stages: STAGES.map(buffer), commits: buffer() };
}

/** A fixed number of slots: a reader never reads more rows than its range holds. */
class SlotList implements NumberSink {
  length = 0;
  constructor(private readonly slots: Float64Array) {}
  push(value: number): void {
    this.slots[this.length++] = value;
  }
  values(): Float64Array {
    return this.slots.subarray(0, this.length);
  }
}

export const FACT_COLUMNS =
  // A number, not the state's text: reading a million strings is a quarter of a report's time.
  "CASE WHEN state = 'failed' THEN 1 ELSE 0 END, duration_ms, committed_at, run, parse_ms, clean_ms, chunk_ms, embed_ms, write_ms";
