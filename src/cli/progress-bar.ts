import type { Progress } from "../runner/run-batch.js";
import { duration } from "./output.js";

/**
 * Progress on stderr: a redrawn bar on a terminal, or (when stderr is not a terminal, e.g. in CI
 * logs) one status line every `intervalMs`.
 */
export class ProgressDisplay {
  private lastLine = 0;
  private drawn = false;
  private readonly samples: { at: number; completed: number }[] = [];

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly tty: boolean,
    private readonly intervalMs = 5_000,
  ) {}

  update(p: Progress): void {
    const now = Date.now();
    this.samples.push({ at: now, completed: p.completed + p.failed });
    while (this.samples.length > 2 && now - this.samples[0]!.at > 10_000) this.samples.shift();
    if (this.tty) {
      this.stream.write(`\r${this.render(p, this.stream.columns ?? 100)}\x1b[K`);
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

  /** Documents per minute over the last ten seconds. */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at === first.at) return 0;
    return ((last.completed - first.completed) / (last.at - first.at)) * 60_000;
  }

  private eta(p: Progress): string {
    const rate = this.rate();
    const left = p.total - p.completed - p.failed;
    return rate > 0 ? duration((left / rate) * 60_000) : "?";
  }

  render(p: Progress, columns: number): string {
    if (p.phase === "planning") return `planning: ${p.planned} input records so far`;
    const settled = p.completed + p.failed;
    const fraction = p.total > 0 ? settled / p.total : 1;
    const info =
      ` ${settled}/${p.total} ${(fraction * 100).toFixed(1)}% | ${Math.round(this.rate())} docs/min | ETA ${this.eta(p)}` +
      ` | failed ${p.failed} | retrying ${p.retriesWaiting} | breaker ${p.breaker}${sinkLag(p, " | ")}`;
    const width = Math.max(10, Math.min(40, columns - info.length - 3));
    const filled = Math.round(fraction * width);
    return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]${info}`;
  }

  statusLine(p: Progress): string {
    if (p.phase === "planning") return `docbatch ${p.batchId}: planning`;
    const settled = p.completed + p.failed;
    const pct = p.total > 0 ? ((settled / p.total) * 100).toFixed(1) : "100.0";
    return (
      `docbatch ${p.batchId}: ${settled}/${p.total} (${pct}%) ${p.phase}, ${Math.round(this.rate())} docs/min, ` +
      `ETA ${this.eta(p)}, failed ${p.failed}, retrying ${p.retriesWaiting}, in flight ${p.inFlight}, breaker ${p.breaker}` +
      sinkLag(p, ", ")
    );
  }
}

/** The sinks' lag, when the batch has sinks. */
function sinkLag(p: Progress, separator: string): string {
  return p.sinkLag === undefined || p.sinkLag === null ? "" : `${separator}sink lag ${p.sinkLag}`;
}
