/**
 * Test support for the HTTP fuzz tests: a raw TCP client (node:net) that sends bytes exactly
 * as given, so malformed request lines, bad framing and pipelining reach the server
 * unchanged, and a parser for the responses that come back on the same connection.
 */
import { connect } from 'node:net';

export interface RawExchangeOptions {
  /** Bytes to send, written one after the other. */
  readonly chunks: readonly Buffer[];
  /**
   * `half-close`: end our side right after writing and read until the server closes.
   * `wait`: keep our side open and stop once `expect` final responses have arrived or the
   * server closes (this is what a keep-alive client does).
   * `hold`: send and keep the connection open; only the server may end it (slowloris).
   */
  readonly mode: 'half-close' | 'wait' | 'hold';
  /** Final responses expected in `wait` mode. */
  readonly expect?: number;
  /** Request methods in order, so HEAD responses are parsed without a body. */
  readonly methods?: readonly string[];
  /** The exchange fails (closedByServer false) if still open after this long. */
  readonly deadlineMs: number;
  /** `hold` mode: bytes to keep sending, one chunk per `dripMs`, while the connection is open. */
  readonly drip?: { readonly chunk: Buffer; readonly everyMs: number };
}

export interface RawExchange {
  readonly data: Buffer;
  /** True when the server ended the connection (or all expected responses arrived in `wait` mode). */
  readonly finished: boolean;
  /** Socket error seen on our side (e.g. ECONNRESET when the server refuses a huge request mid-send). */
  readonly socketError?: string;
}

export function rawExchange(port: number, opts: RawExchangeOptions): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    let socketError: string | undefined;
    let done = false;
    let drip: NodeJS.Timeout | undefined;
    const finish = (finished: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (drip !== undefined) clearInterval(drip);
      socket.destroy();
      resolve({ data: Buffer.concat(received), finished, ...(socketError !== undefined ? { socketError } : {}) });
    };
    const deadline = setTimeout(() => finish(false), opts.deadlineMs);
    socket.on('data', (d: Buffer) => {
      received.push(d);
      if (opts.mode === 'wait' && opts.expect !== undefined) {
        const parsed = parseResponses(Buffer.concat(received), opts.methods ?? [], false);
        if (parsed.responses.length >= opts.expect) finish(true);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      socketError = e.code ?? e.message;
    });
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      for (const c of opts.chunks) socket.write(c);
      if (opts.mode === 'half-close') socket.end();
      if (opts.mode === 'hold' && opts.drip !== undefined) {
        const { chunk, everyMs } = opts.drip;
        drip = setInterval(() => {
          if (!socket.destroyed && socket.writable) socket.write(chunk);
        }, everyMs);
      }
    });
  });
}

export interface ParsedResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  /** Status line, headers and body, as received. */
  readonly raw: Buffer;
  readonly body: Buffer;
}

export interface ParsedStream {
  /** Final (non-1xx) responses in order. */
  readonly responses: ParsedResponse[];
  /** 1xx interim statuses seen. */
  readonly interim: number[];
  /** Bytes after the last complete response (a truncated or unparseable tail). */
  readonly tail: Buffer;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Splits a byte stream into HTTP/1.x responses. `closed` says the stream is complete, so
 * a response without Content-Length or chunked framing runs to its end.
 */
export function parseResponses(buf: Buffer, methods: readonly string[], closed: boolean): ParsedStream {
  const responses: ParsedResponse[] = [];
  const interim: number[] = [];
  let off = 0;
  while (off < buf.length) {
    const headEnd = buf.indexOf(CRLFCRLF, off);
    if (headEnd < 0) break;
    const lines = buf.subarray(off, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(lines[0] ?? '');
    if (!m) break;
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const bodyStart = headEnd + 4;
    if (status < 200) {
      interim.push(status);
      off = bodyStart;
      continue;
    }
    const method = methods[responses.length];
    let bodyEnd: number;
    let body: Buffer;
    const cl = headers.get('content-length');
    if (method === 'HEAD' || status === 204 || status === 304) {
      bodyEnd = bodyStart;
      body = Buffer.alloc(0);
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) break;
      bodyEnd = bodyStart + Number(cl);
      if (bodyEnd > buf.length) break;
      body = buf.subarray(bodyStart, bodyEnd);
    } else if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      const chunks: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', p);
        if (lineEnd < 0) break;
        const size = parseInt(buf.subarray(p, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          const end = buf.indexOf(CRLFCRLF, lineEnd);
          if (end >= 0 || buf.subarray(lineEnd, lineEnd + 4).equals(CRLFCRLF)) {
            p = (end >= 0 ? end : lineEnd) + 4;
            complete = true;
          }
          break;
        }
        if (lineEnd + 2 + size + 2 > buf.length) break;
        chunks.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      bodyEnd = p;
      body = Buffer.concat(chunks);
    } else {
      if (!closed) break;
      bodyEnd = buf.length;
      body = buf.subarray(bodyStart);
    }
    responses.push({ status, headers, raw: buf.subarray(off, bodyEnd), body });
    off = bodyEnd;
  }
  return { responses, interim, tail: buf.subarray(off) };
}

/** Runs `tasks` with at most `concurrency` in flight; results in task order. */
export async function pool<T>(tasks: ReadonlyArray<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= tasks.length) return;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}
