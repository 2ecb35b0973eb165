import { DocbatchError } from "../core/errors.js";

/**
 * The progress events of every open event stream. However many clients watch a batch, its
 * numbers (counts, the report) are computed once per interval and the same text goes to each
 * stream: a stream costs a write, not a query. A client that reads slowly gets the latest event
 * when it is ready, never a queue of old ones. The number of open streams is capped.
 */
export interface LiveFeedOptions {
  /** Computes what the streams of a batch receive. */
  compute(batchId: string): Promise<unknown>;
  /** @default 500 */
  intervalMs?: number;
  /** Open streams at most, over all batches. @default 500 */
  maxStreams?: number;
  /** Told when a computation fails (the streams keep their last event and try again). */
  onError?(batchId: string, err: unknown): void;
}

export interface Subscription {
  /** The next event's data (JSON text) that this subscriber has not seen; waits for one. */
  next(): Promise<string | null>;
  close(): void;
}

interface Channel {
  subscribers: Set<Subscriber>;
  timer: NodeJS.Timeout | null;
  latest: string | null;
  /** Bumped with every new event. */
  version: number;
}

interface Subscriber {
  seen: number;
  wake: (() => void) | null;
  closed: boolean;
}

export class LiveFeed {
  private readonly channels = new Map<string, Channel>();
  private streams = 0;
  private readonly intervalMs: number;
  private readonly maxStreams: number;
  /** Computations run so far (for tests and metrics: one per batch and interval). */
  computations = 0;

  constructor(private readonly options: LiveFeedOptions) {
    this.intervalMs = options.intervalMs ?? 500;
    this.maxStreams = options.maxStreams ?? 500;
    if (!Number.isInteger(this.maxStreams) || this.maxStreams < 1) {
      throw new DocbatchError(
        "USAGE",
        `Expected \`maxStreams\` to be an integer from 1 and up, got \`${this.maxStreams}\``,
        { details: [{ path: "--max-event-streams", problem: "an integer from 1 and up" }] },
      );
    }
  }

  get openStreams(): number {
    return this.streams;
  }

  /** A new stream of the batch's events; throws TOO_MANY_STREAMS when the cap is reached. */
  subscribe(batchId: string): Subscription {
    if (this.streams >= this.maxStreams) {
      throw new DocbatchError("TOO_MANY_STREAMS", `${this.streams} event streams are open already.`, {
        details: [{ path: "events", problem: `at most ${this.maxStreams} open event streams` }],
      });
    }
    this.streams += 1;
    let channel = this.channels.get(batchId);
    if (!channel) {
      channel = { subscribers: new Set(), timer: null, latest: null, version: 0 };
      this.channels.set(batchId, channel);
      this.start(batchId, channel);
    }
    const ch = channel;
    const me: Subscriber = { seen: 0, wake: null, closed: false };
    ch.subscribers.add(me);
    return {
      next: async () => {
        while (!me.closed && me.seen >= ch.version) {
          await new Promise<void>((resolve) => {
            me.wake = resolve;
          });
        }
        if (me.closed) return null;
        me.seen = ch.version;
        return ch.latest;
      },
      close: () => {
        if (me.closed) return;
        me.closed = true;
        me.wake?.();
        ch.subscribers.delete(me);
        this.streams -= 1;
        if (ch.subscribers.size === 0) this.stop(batchId, ch);
      },
    };
  }

  /** Ends every stream (the server is shutting down). */
  close(): void {
    for (const [batchId, channel] of this.channels) {
      for (const s of channel.subscribers) {
        s.closed = true;
        s.wake?.();
      }
      this.streams -= channel.subscribers.size;
      channel.subscribers.clear();
      this.stop(batchId, channel);
    }
  }

  private start(batchId: string, channel: Channel): void {
    let busy = false;
    const tick = async () => {
      // A computation slower than the interval is not started twice.
      if (busy) return;
      busy = true;
      try {
        this.computations += 1;
        const data = JSON.stringify(await this.options.compute(batchId));
        channel.latest = data;
        channel.version += 1;
        for (const s of channel.subscribers) s.wake?.();
      } catch (err) {
        this.options.onError?.(batchId, err);
      } finally {
        busy = false;
      }
    };
    void tick();
    channel.timer = setInterval(() => void tick(), this.intervalMs);
    channel.timer.unref();
  }

  private stop(batchId: string, channel: Channel): void {
    if (channel.timer) clearInterval(channel.timer);
    channel.timer = null;
    if (this.channels.get(batchId) === channel) this.channels.delete(batchId);
  }
}
