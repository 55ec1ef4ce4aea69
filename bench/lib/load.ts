/**
 * One autocannon run, summarised. autocannon runs in the calling process (the load
 * generator), never in the server's.
 *
 * Every connection is re-opened by the client after RECONNECT_EVERY requests, for every
 * server alike. Without it, the sidecar's listener (which closes a connection after 1,000
 * requests, `Connection: close`) trips an autocannon 8 quirk: on a server-side close it
 * reconnects and sends a new request without dropping the one lost on the old socket, so
 * each close adds one phantom request to the queue, latencies are then measured against
 * older requests (a p50 of 1.3 ms where the real one is 0.1 ms) and the connection is
 * effectively pipelined. A client-side reconnect clears the queue and keeps both servers
 * under the same conditions.
 */
import autocannon from 'autocannon';

/** Below the listener's default maxRequestsPerSocket (1,000), so the server never closes first. */
export const RECONNECT_EVERY = 900;

export interface LoadResult {
  readonly connections: number;
  readonly durationS: number;
  readonly requests: number;
  /** Completed requests per second over the run. */
  readonly rps: number;
  /** Latency of each 2xx response, milliseconds at microsecond resolution (not in JSON output). */
  readonly samples: Float64Array;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly connections: number;
  /** Seconds; ignored when `amount` is given. */
  readonly durationS?: number;
  readonly amount?: number;
  /** Keep per-response latencies (default true; off for long top-up runs). */
  readonly keepSamples?: boolean;
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const instance = autocannon({
    url: o.url,
    reconnectRate: RECONNECT_EVERY,
    connections: o.connections,
    pipelining: 1,
    timeout: 10,
    headers: o.headers ?? {},
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.durationS ?? 10 }),
  });
  // autocannon's own histogram keeps whole milliseconds, too coarse for a loopback request
  // of ~0.1 ms; its 'response' event carries the exact duration.
  let samples = new Float64Array(o.keepSamples === false ? 0 : 65_536);
  let n = 0;
  if (o.keepSamples !== false) {
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status < 200 || status > 299) return;
      if (n === samples.length) {
        const bigger = new Float64Array(samples.length * 2);
        bigger.set(samples);
        samples = bigger;
      }
      samples[n++] = ms;
    });
  }
  const r = await instance;
  const sorted = samples.slice(0, n).sort();
  const requests = r.latency.totalCount;
  return {
    connections: o.connections,
    durationS: r.duration,
    requests,
    rps: r.duration > 0 ? requests / r.duration : 0,
    samples: sorted,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: n > 0 ? sorted[n - 1]! : Number.NaN,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}
