declare module "parse-prometheus-text-format" {
  export default function parse(text: string): unknown[];
}

declare module "autocannon" {
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
    max: number;
    total: number;
  }
  interface Instance {
    stop(): void;
  }
  function autocannon(
    options: { url: string; connections?: number; duration?: number },
    callback: (err: Error | null, result: autocannon.Result) => void,
  ): Instance;
  namespace autocannon {
    interface Result {
      requests: Histogram;
      latency: Histogram;
      non2xx: number;
      errors: number;
      duration: number;
    }
  }
  export default autocannon;
}
