import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Interrupt, type Interruptible } from "../../src/core/interrupt.js";

type Step =
  | { op: "add"; listener: number }
  | { op: "remove"; listener: number }
  | { op: "abort"; reason: number }
  | { op: "read" };

const steps = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant("add" as const), listener: fc.nat(4) }),
    fc.record({ op: fc.constant("remove" as const), listener: fc.nat(4) }),
    fc.record({ op: fc.constant("abort" as const), reason: fc.nat(3) }),
    fc.record({ op: fc.constant("read" as const) }),
  ),
  { maxLength: 30 },
);

/** Plays `script` on a signal and returns what could be observed: calls, states and throws. */
function observe(signal: Interruptible, abort: (reason: unknown) => void, script: Step[]): unknown[] {
  const seen: unknown[] = [];
  const listeners = [0, 1, 2, 3, 4].map((n) => () => seen.push(`called ${n}`, signal.aborted, signal.reason));
  for (const step of script) {
    if (step.op === "add") signal.addEventListener("abort", listeners[step.listener]!, { once: true });
    if (step.op === "remove") signal.removeEventListener("abort", listeners[step.listener]!);
    if (step.op === "abort") abort(`reason ${step.reason}`);
    if (step.op === "read") {
      seen.push(signal.aborted, signal.reason);
      try {
        signal.throwIfAborted();
        seen.push("no throw");
      } catch (err) {
        seen.push(`threw ${String(err)}`);
      }
    }
  }
  return seen;
}

describe("Interrupt", () => {
  it("behaves as an AbortController's signal does, step for step", () => {
    fc.assert(
      fc.property(steps, (script) => {
        const controller = new AbortController();
        const standard = observe(controller.signal, (r) => controller.abort(r), script);
        const interrupt = new Interrupt();
        expect(observe(interrupt, (r) => interrupt.abort(r), script)).toEqual(standard);
      }),
      { numRuns: 2_000 },
    );
  });

  it("runs the other listeners when one throws, and reports the error as uncaught", async () => {
    const interrupt = new Interrupt();
    const calls: string[] = [];
    interrupt.addEventListener("abort", () => {
      calls.push("first");
      throw new Error("listener failed");
    });
    interrupt.addEventListener("abort", () => calls.push("second"));
    const reported = new Promise<unknown>((resolve) => process.once("uncaughtException", resolve));
    interrupt.abort(new Error("stop"));
    expect(calls).toEqual(["first", "second"]);
    expect(String(await reported)).toContain("listener failed");
  });
});
