import { DocbatchError } from "../core/errors.js";
import { hash64 } from "../core/identity-map.js";

/**
 * Fault injection for demonstrations and tests: `parse=P,embed=P,timeout=P,crash=P` with a seed.
 *
 * The decision for a document is a hash of (seed, fault, document key, execution, step), not a
 * draw from a shared random stream, so it does not depend on the order in which concurrent
 * documents happen to run: the same seed injects the same faults. Injected faults are thrown from
 * inside the real stages and take the same paths as real failures.
 */
export interface FaultRates {
  /** The parser throws PARSE_ERROR. */
  parse: number;
  /** An embedding request fails with EMBED_UNAVAILABLE before it is sent. */
  embed: number;
  /** An embedding request hangs until its timeout fires (EMBED_TIMEOUT). */
  timeout: number;
  /** The process dies abruptly (SIGKILL) just before committing a document. */
  crash: number;
}

const KINDS = ["parse", "embed", "timeout", "crash"] as const;
export type FaultKind = (typeof KINDS)[number];

export const NO_FAULTS: FaultRates = { parse: 0, embed: 0, timeout: 0, crash: 0 };

export function parseFaultSpec(spec: string | undefined): FaultRates {
  const rates: FaultRates = { ...NO_FAULTS };
  if (!spec || spec.trim() === "") return rates;
  for (const part of spec.split(",")) {
    const [name, value] = part.split("=").map((s) => s.trim());
    if (!KINDS.includes(name as FaultKind)) {
      throw new DocbatchError("USAGE", `--inject: unknown fault \`${name}\``, {
        details: [{ path: "--inject", problem: `unknown fault ${JSON.stringify(name)}` }],
        hints: [`Use ${KINDS.map((k) => `${k}=P`).join(",")} with probabilities P from 0 to 1.`],
      });
    }
    const p = Number(value);
    if (value === undefined || value === "" || !Number.isFinite(p) || p < 0 || p > 1) {
      throw new DocbatchError(
        "USAGE",
        `--inject: \`${name}\` needs a probability from 0 to 1, got \`${value}\``,
        {
          details: [{ path: `--inject.${name}`, problem: "must be a number from 0 to 1" }],
        },
      );
    }
    rates[name as FaultKind] = p;
  }
  return rates;
}

export class FaultInjector {
  constructor(
    readonly rates: FaultRates,
    private readonly seed: number,
  ) {}

  get active(): boolean {
    return KINDS.some((k) => this.rates[k] > 0);
  }

  /**
   * Whether to inject `kind` into step `step` of a document's attempt (or execution, for crashes)
   * numbered `round`: a pure function of the seed, so runs with one seed fail alike.
   */
  hits(kind: FaultKind, key: string, round: number, step = 0): boolean {
    const p = this.rates[kind];
    if (p <= 0) return false;
    const h = hash64(`${this.seed}|${kind}|${key}|${round}|${step}`);
    return h.lo / 4294967296 < p;
  }
}
