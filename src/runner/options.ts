import { DocbatchError } from "../core/errors.js";

/** Option checks with messages that show the bad value, e.g. Expected `concurrency` ... got `0` (number). */
export function expectInteger(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `from ${min} and up` : `from ${min} to ${max}`;
    throw new DocbatchError(
      "USAGE",
      `Expected \`${name}\` to be an integer ${range}, got \`${String(value)}\` (${typeof value})`,
      {
        details: [{ path: name, problem: `must be an integer ${range}` }],
      },
    );
  }
  return value;
}

export function expectRate(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new DocbatchError(
      "USAGE",
      `Expected \`${name}\` to be a number from 0 to 1, got \`${String(value)}\` (${typeof value})`,
      {
        details: [{ path: name, problem: "must be a number from 0 to 1" }],
      },
    );
  }
  return value;
}
