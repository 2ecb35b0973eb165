import { DocbatchError } from "./errors.js";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * A duration as people write it: a whole number and a unit, `30d`, `12h`, `90m`, `45s`, `2w`,
 * `500ms`. Bare numbers are refused: "30" could be days or seconds.
 */
export function parseDuration(text: string, name = "duration"): number {
  const match = /^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  if (!match) {
    throw new DocbatchError(
      "USAGE",
      `Expected \`${name}\` to be a duration such as 30d or 12h, got \`${text}\``,
      {
        details: [{ path: name, problem: "a whole number followed by ms, s, m, h, d or w" }],
        hints: ["Write the unit: 30d (days), 12h (hours), 90m (minutes), 45s (seconds), 2w (weeks)."],
      },
    );
  }
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}
