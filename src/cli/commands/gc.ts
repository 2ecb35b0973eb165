import { parseDuration } from "../../core/duration.js";
import { collectGarbage } from "../../runner/collect-garbage.js";
import { createStore } from "../../store/open.js";
import { parseCommand } from "../args.js";
import { printHelp } from "../help.js";
import { printJson } from "../output.js";

export async function gcCommand(args: string[]): Promise<number> {
  const { values } = parseCommand("gc", args);
  if (values.help) return printHelp("gc");
  const olderThanMs =
    values.olderThan === undefined ? undefined : parseDuration(values.olderThan, "--older-than");
  const store = await createStore({ db: values.db, url: values.store }, { mustExist: true });
  await store.open();
  try {
    const result = await collectGarbage({ store, ...(olderThanMs !== undefined ? { olderThanMs } : {}) });
    if (values.json) {
      printJson({
        cache_entries_removed: result.cacheRemoved,
        cache_entries_kept: result.cacheKept,
        events_removed: result.eventsRemoved,
        failures_removed: result.failuresRemoved,
      });
      return 0;
    }
    const lines = [
      `removed ${result.cacheRemoved} embedding cache entries no batch uses (${result.cacheKept} kept)`,
    ];
    if (olderThanMs !== undefined) {
      lines.push(
        `removed ${result.eventsRemoved} events and ${result.failuresRemoved} failed-attempt records older than ${values.olderThan}`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
