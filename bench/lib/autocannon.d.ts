/**
 * The part of autocannon@8's programmatic API the benchmarks use (the package ships no
 * types). Latencies are milliseconds; `requests` and `throughput` are per-second samples.
 */
declare module 'autocannon' {
  interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p99: number;
    p99_9?: number;
    sent?: number;
  }
  interface Result {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    mismatches: number;
    '2xx': number;
    '4xx': number;
    '5xx': number;
    latency: Histogram & { totalCount: number };
    requests: Histogram;
    throughput: Histogram;
  }
  interface Options {
    url: string;
    connections?: number;
    pipelining?: number;
    duration?: number;
    amount?: number;
    timeout?: number;
    method?: string;
    headers?: Record<string, string>;
    /** Client-side reconnect after this many requests per connection (clears the pending queue). */
    reconnectRate?: number;
  }
  interface Instance extends PromiseLike<Result> {
    stop(): void;
    /** Every response: the connection's client, status, bytes, and the exact latency in ms. */
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
  }
  function autocannon(opts: Options): Instance;
  export default autocannon;
}
