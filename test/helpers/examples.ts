import { expect, it } from "vitest";

/** Behaviours of a function of one input, each with the inputs that show it and what they give. */
export type Examples<I, O> = [behaviour: string, cases: [input: I, expected: O][]][];

/** One test per behaviour of `fn`: every input of it gives exactly its expected value. */
export function itGives<I, O>(fn: (input: I) => O, examples: Examples<I, O>): void {
  it.each(examples)("%s", (_, cases) => {
    for (const [input, expected] of cases) expect(fn(input), JSON.stringify(input)).toBe(expected);
  });
}
