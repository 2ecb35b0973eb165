import type { Progress } from "../runner/run-batch.js";
import { duration } from "./output.js";

/**
 * Progress on stderr: a redrawn bar on a terminal, or (when stderr is not a terminal, e.g. in CI
 * logs) one status line every `intervalMs`.
 *
 * The counts come from several places that are read at different moments (the store's counts, the
 * engine's own tallies, a plan still being written), so nothing here assumes they agree: settled
 * documents may exceed a total that is still being planned, and a total may be 0. The display
 * clamps every figure it derives, and a total that is still growing is shown as `645/1200+`.
 */
export class ProgressDisplay {
  private lastLine = 0;
  private drawn = false;
  private readonly samples: { at: number; completed: number }[] = [];

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly tty: boolean,
    private readonly intervalMs = 5_000,
    /** Also show what this process settled (a worker shares the batch with others). */
    private readonly own = false,
  ) {}

  update(p: Progress): void {
    const now = Date.now();
    this.samples.push({ at: now, completed: p.completed + p.failed });
    while (this.samples.length > 2 && now - this.samples[0]!.at > 10_000) this.samples.shift();
    if (this.tty) {
      const own = this.own ? ` | this worker ${whole(p.processedThisRun)}` : "";
      this.stream.write(`\r${this.render(p, (this.stream.columns || 100) - own.length)}${own}\x1b[K`);
      this.drawn = true;
      if (p.phase === "finished") this.finish();
    } else if (p.phase === "finished" || now - this.lastLine >= this.intervalMs) {
      this.lastLine = now;
      this.stream.write(`${this.statusLine(p)}\n`);
    }
  }

  finish(): void {
    if (this.tty && this.drawn) this.stream.write("\n");
    this.drawn = false;
  }

  /** Documents per minute over the last ten seconds (never negative). */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at <= first.at) return 0;
    return Math.max(0, ((last.completed - first.completed) / (last.at - first.at)) * 60_000);
  }

  private eta(p: Progress, counts: Counts): string {
    const rate = this.rate();
    // While the plan is written the total is only what is planned so far: no honest ETA yet.
    if (p.planning) return "? (planning)";
    if (rate <= 0) return "?";
    return duration((Math.max(0, counts.total - counts.settled) / rate) * 60_000);
  }

  render(p: Progress, columns: number): string {
    if (p.phase === "planning") return `planning: ${whole(p.planned)} input records so far${storeNote(p)}`;
    const counts = countsOf(p);
    const info =
      ` ${counts.label}${p.planning ? " planning" : ` ${percentOf(counts)}`} | ${Math.round(this.rate())} docs/min` +
      ` | ETA ${this.eta(p, counts)} | failed ${whole(p.failed)} | retrying ${whole(p.retriesWaiting)}` +
      ` | breaker ${p.breaker}${storeNote(p)}${sinkLag(p, " | ")}`;
    const width = Math.max(10, Math.min(40, (Number.isFinite(columns) ? columns : 100) - info.length - 3));
    const filled = Math.min(width, Math.max(0, Math.round(counts.fraction * width)));
    return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]${info}`;
  }

  statusLine(p: Progress): string {
    if (p.phase === "planning") return `docbatch ${p.batchId}: planning${storeNote(p, ",")}`;
    const counts = countsOf(p);
    const share = p.planning ? "planning" : percentOf(counts);
    return (
      `docbatch ${p.batchId}: ${counts.label} (${share}) ${p.phase}, ${Math.round(this.rate())} docs/min, ` +
      `ETA ${this.eta(p, counts)}, failed ${whole(p.failed)}, retrying ${whole(p.retriesWaiting)}, ` +
      `in flight ${whole(p.inFlight)}, breaker ${p.breaker}${storeNote(p, ",")}${sinkLag(p, ", ")}` +
      (this.own ? `, this worker ${whole(p.processedThisRun)}` : "")
    );
  }
}

interface Counts {
  settled: number;
  /** Never below `settled`: a total read before the latest settlements is stale, not smaller. */
  total: number;
  /** In [0, 1]. */
  fraction: number;
  label: string;
}

function countsOf(p: Progress): Counts {
  const settled = whole(p.completed) + whole(p.failed);
  const total = Math.max(whole(p.total), settled);
  const fraction = total > 0 ? settled / total : p.planning ? 0 : 1;
  return { settled, total, fraction, label: `${settled}/${total}${p.planning ? "+" : ""}` };
}

function percentOf(counts: Counts): string {
  return `${(counts.fraction * 100).toFixed(1)}%`;
}

/** A count as a non-negative integer, whatever arrived (NaN, negative, fractional). */
function whole(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0;
}

/** Says so while the store is unreachable and its calls are being retried. */
function storeNote(p: Progress, separator = " |"): string {
  if (!p.storeRetry) return "";
  const seconds = Math.max(0, Math.round((Date.now() - p.storeRetry.since) / 1000));
  return `${separator} store unreachable for ${seconds}s, retrying`;
}

/** The sinks' lag, when the batch has sinks. */
function sinkLag(p: Progress, separator: string): string {
  return p.sinkLag === undefined || p.sinkLag === null ? "" : `${separator}sink lag ${p.sinkLag}`;
}
