import { createStore } from "../store/open.js";
import type { Store } from "../store/store.js";

/** Drops undefined entries, so library defaults apply. */
export function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The shared store named by `--store URL` (or DOCBATCH_STORE when no --db is given), opened; null
 * for the embedded SQLite store, which `run` opens itself (only once the input is known valid).
 */
export async function sharedStore(values: { db?: string; store?: string }): Promise<Store | null> {
  const url = values.store ?? (values.db ? undefined : process.env.DOCBATCH_STORE);
  if (!url) return null;
  const store = await createStore({ url });
  await store.open();
  return store;
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
