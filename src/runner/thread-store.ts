import type { Store, StoreConnectionSpec } from "../store/store.js";

/**
 * A worker thread's own connection to the run's store, opened, its calls riding out outages like
 * the main thread's. The stores are loaded only when a thread opens one: a thread that needs no
 * store starts without them. `cacheMb` is the SQLite page cache the thread's work needs.
 */
export async function openThreadStore(
  spec: StoreConnectionSpec,
  storeRetryMs: number,
  cacheMb: number,
): Promise<Store> {
  const [{ ResilientStore }, { StoreRetry }, { createLogger }] = await wrapperModules();
  const raw: Store =
    spec.kind === "sqlite"
      ? new (await import("../store/sqlite/index.js")).SqliteStore({
          file: spec.file,
          durability: spec.durability,
          cacheMb,
        })
      : new (await import("../store/postgres/index.js")).PostgresStore({ url: spec.url, poolSize: 2 });
  // Outages are told by the main thread, whose own calls meet them too.
  const store = new ResilientStore(
    raw,
    new StoreRetry({ budgetMs: storeRetryMs, logger: createLogger(undefined) }),
  );
  await store.open();
  return store;
}

/** What wraps a thread's store, whatever its backend. */
function wrapperModules() {
  return Promise.all([import("./resilient-store.js"), import("./store-retry.js"), import("./logger.js")]);
}

/**
 * Loads what opening the embedded store on a thread needs, for a thread started ahead of its
 * job (a Postgres store loads when it is opened).
 */
export async function preloadThreadStore(): Promise<void> {
  await Promise.all([wrapperModules(), import("../store/sqlite/index.js")]);
}
