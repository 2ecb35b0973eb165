import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PostgresStore } from "../../src/store/postgres/index.js";
import { workerArgs } from "../helpers/args.js";
import { errorOf, runCli, tempDir } from "../helpers/cli.js";
import { pgUrl, schemaStores } from "../helpers/postgres.js";
import { startCli, waitFor } from "../helpers/processes.js";
import { seededRandom, testSeed } from "../helpers/seed.js";
import { expectCompleteExport, exportOf } from "../helpers/store.js";

const url = pgUrl();
const pg = schemaStores(url);

/** Many small documents in a JSONL file: planning them takes a while, processing them little. */
function smallDocs(count: number, prefix: string): { input: string; ids: string[] } {
  const input = path.join(tempDir(), "c.jsonl");
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  fs.writeFileSync(
    input,
    ids.map((id, i) => JSON.stringify({ id, content: `document ${i} of ${prefix}` })).join("\n"),
  );
  return { input, ids };
}

/** `submit` of a large input, SIGKILLed once its plan is partly written (at a random slice). */
async function submitKilledWhilePlanning(
  input: string,
  storeUrl: string,
  store: PostgresStore,
  seed: number,
) {
  const random = seededRandom(seed);
  const submit = startCli(["submit", input, "--store", storeUrl, "--batch-id", "k"]);
  const target = 1 + Math.floor(random() * 3) * 1_000;
  const planned = async () => ((await store.getBatch("k").catch(() => null))?.planRecords ?? 0) >= target;
  if (!(await waitFor(planned, 300_000, submit.finished)))
    throw new Error(`submit ended before it was killed: ${(await submit.finished).stderr}`);
  submit.child.kill("SIGKILL");
  expect((await submit.finished).signal).toBe("SIGKILL");
  const batch = (await store.getBatch("k"))!;
  // The kill must land mid-plan for the test to mean anything.
  expect(batch.planComplete).toBe(false);
  return batch;
}

describe.skipIf(!url)("a worker and a dead planner (Postgres)", () => {
  afterAll(() => pg.cleanup());

  it("`submit` SIGKILLed while planning, then one `worker`: it continues the plan and completes the batch", async () => {
    const { storeUrl, store } = pg.fresh("takeover");
    const { input, ids } = smallDocs(15_000, "takeover");
    await store.open();
    const killed = await submitKilledWhilePlanning(input, storeUrl, store, testSeed("plan takeover"));
    const worker = await runCli(workerArgs({ batchId: "k", store: storeUrl }));
    expect(worker.code, worker.stderr.slice(-2_000)).toBe(0);
    const report = JSON.parse(worker.stdout);
    expect(report.counts).toMatchObject({ total: ids.length, pending: 0, processing: 0 });
    expect(report.counts.done + report.counts.degraded).toBe(ids.length);
    const batch = (await store.getBatch("k"))!;
    expect(batch).toMatchObject({ planComplete: true, planRecords: ids.length, duplicatesSkipped: 0 });
    expect(batch.planRecords).toBeGreaterThan(killed.planRecords);
    expectCompleteExport(await exportOf(store, "k"), ids);
  }, 300_000);

  it("a worker that cannot read the dead planner's input says why and exits; with the input back it completes", async () => {
    const { storeUrl, store } = pg.fresh("noinput");
    const { input, ids } = smallDocs(15_000, "noinput");
    await store.open();
    await submitKilledWhilePlanning(input, storeUrl, store, testSeed("plan takeover without the input"));
    fs.renameSync(input, `${input}.away`);
    const started = Date.now();
    const stuck = await runCli(workerArgs({ batchId: "k", store: storeUrl, json: false }));
    expect(stuck.code, stuck.stderr).toBe(1);
    const error = errorOf(stuck);
    expect(error.code).toBe("PLAN_INCOMPLETE");
    expect(error.message).toContain("cannot be read here");
    expect(error.hints.join(" ")).toMatch(/docbatch submit INPUT/);
    expect(stuck.stderr).not.toMatch(/\n\s+at /);
    // It does not wait a lease for a planner it knows is dead.
    expect(Date.now() - started).toBeLessThan(25_000);
    // The worker's run is not left marked as running.
    const runs = await store.listRuns("k");
    expect(runs.at(-1)).toMatchObject({ exitReason: "error:PLAN_INCOMPLETE" });
    expect(runs.at(-1)!.endedAt).not.toBeNull();

    fs.renameSync(`${input}.away`, input);
    const worker = await runCli(workerArgs({ batchId: "k", store: storeUrl }));
    expect(worker.code, worker.stderr.slice(-2_000)).toBe(0);
    expect(JSON.parse(worker.stdout).counts).toMatchObject({ total: ids.length, done: ids.length });
  }, 300_000);
});
