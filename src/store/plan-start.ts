import type { BatchRow } from "./rows.js";
import type { PlanStart } from "./store.js";

const isSet = (flag: boolean | number | undefined) => flag === true || flag === 1;

/**
 * What `beginPlan` does with an existing batch, the same in both stores: keep its current plan
 * (an interrupted plan of the same input, continued from its checkpoint, or a complete one that is
 * up to date), or start a new plan generation. A complete plan of the same input is planned again
 * when its files are outside the fingerprint (each is then checked by its stat, not read), when
 * every file must be read again (`replan`), or when a `--sync full` start finds a plan that did not
 * delete what its input left out.
 */
export function planDecision(
  row: BatchRow,
  start: PlanStart,
  existed: boolean,
): { keep: boolean; upToDate: boolean } {
  const complete = isSet(row.plan_complete);
  const same = row.fingerprint !== null && row.fingerprint === start.fingerprint && row.layer === start.layer;
  // A batch created but not planned yet (e.g. by the server before it answered) keeps its generation.
  const fresh =
    !existed && row.plan_records === 0 && row.plan_generation === 1 && row.fingerprint === start.fingerprint;
  const deletesNow = (start.sync ?? "accumulate") === "full" && row.plan_sync !== "full";
  const recheck = complete && (isSet(row.external_files) || start.replan === true || deletesNow);
  const keep = fresh || (same && !recheck);
  return { keep, upToDate: keep && same && complete };
}
