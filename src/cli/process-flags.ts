import { DEFAULTS } from "../runner/defaults.js";
import { createLogger } from "../runner/logger.js";
import { type StoreOutage, StoreRetry } from "../runner/store-retry.js";
import { createStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import { storeError } from "../store/transient.js";

/** Drops undefined entries, so library defaults apply. */
export function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The shared store named by `--store URL` (or DOCBATCH_STORE when no --db is given), opened; null
 * for the embedded SQLite store, which `run` opens itself (only once the input is known valid).
 */
export async function sharedStore(values: {
  db?: string;
  store?: string;
  storeRetryMs?: number;
}): Promise<Store | null> {
  const url = values.store ?? (values.db ? undefined : process.env.DOCBATCH_STORE);
  if (!url) return null;
  const store = await createStore({ url });
  // A database that is restarting as the command starts is waited for, like one that restarts later.
  const retry = new StoreRetry({
    budgetMs: values.storeRetryMs ?? DEFAULTS.storeRetryMs,
    logger: createLogger(undefined),
    onChange: storeOutageNotice(),
  });
  try {
    await retry.run("open", () => store.open());
  } catch (err) {
    await store.close().catch(() => {});
    throw storeError(err) ?? err;
  }
  return store;
}

/**
 * One line on stderr when the store becomes unreachable and one when it answers again, so that a
 * run that pauses through a database restart says why, whatever its progress display.
 */
export function storeOutageNotice(): (outage: StoreOutage | null) => void {
  let since: number | null = null;
  // On a terminal the progress bar's line is cleared first, and redrawn below.
  const clear = process.stderr.isTTY ? "\r\x1b[K" : "";
  return (outage) => {
    if (outage && since === null) {
      since = outage.since;
      process.stderr.write(`${clear}docbatch: the store is unreachable (${outage.error}); retrying\n`);
    } else if (!outage && since !== null) {
      const seconds = ((Date.now() - since) / 1000).toFixed(1);
      since = null;
      process.stderr.write(`${clear}docbatch: the store is reachable again after ${seconds} s\n`);
    }
  };
}

/** Runs `fn` with an AbortSignal that SIGINT/SIGTERM abort (a second signal exits at once). */
export async function withSignals<T>(
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<{ result: T; signal: NodeJS.Signals | null }> {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const onSignal = (name: NodeJS.Signals) => {
    if (received) process.exit(name === "SIGTERM" ? 143 : 130);
    received = name;
    process.stderr.write(
      `\ndocbatch: ${name} received, finishing in-flight documents (send again to stop at once)\n`,
    );
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await fn(controller.signal);
    return { result, signal: received };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
