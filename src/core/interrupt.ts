/**
 * What the pipeline reads of a cancellation signal: whether it fired, why, and a listener for the
 * moment it does. A standard AbortSignal is one, and so is an `Interrupt`.
 */
export interface Interruptible {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * A document's cancellation (its time limit, a lost lease, a shutdown), made once per document.
 * An AbortController costs about 6 µs to make and to listen to, and each read of its signal's
 * `aborted` goes through a checked getter: for documents of one sentence that was a twentieth of
 * the main thread. This is a plain object with the same behaviour: listeners run once, in the order
 * they were added, when it first aborts; a listener added after that never runs; one that throws
 * is reported as uncaught and does not stop the others. Whatever needs a standard AbortSignal (an
 * HTTP request, a user's embedder) gets a controller of its own, linked by a listener.
 */
export class Interrupt implements Interruptible {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | null = null;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = null;
    for (const listener of listeners ?? []) {
      try {
        listener();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** As on an EventTarget, a listener already added is not added again. */
  addEventListener(_type: "abort", listener: () => void): void {
    if (this.aborted) return;
    if (this.listeners === null) this.listeners = [];
    if (!this.listeners.includes(listener)) this.listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.listeners!.splice(at, 1);
  }
}
