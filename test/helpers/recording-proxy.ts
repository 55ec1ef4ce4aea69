/**
 * A reverse proxy for tests that sits between the CLI and a CreateSession server, records
 * each request's headers, and can tamper with the next request, so a test can see exactly
 * what was signed (e.g. the algorithm in Authorization) and prove the server rejects a
 * changed signature. Headers, the Host header included, are forwarded as received.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly status: number;
}

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  /** Rewrites the headers of the next forwarded request only. */
  tamperNext(f: (headers: IncomingHttpHeaders) => IncomingHttpHeaders): void;
  stop(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

export async function startRecordingProxy(target: URL): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  let tamper: ((h: IncomingHttpHeaders) => IncomingHttpHeaders) | undefined;
  // ML-DSA-87 requests carry ~20 KiB of headers (certificate + signature): above Node's 16 KiB default.
  const server: Server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let headers = { ...req.headers };
      if (tamper !== undefined) {
        headers = tamper(headers);
        tamper = undefined;
      }
      const up = request({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: false }, (upRes) => {
        const out: Buffer[] = [];
        upRes.on('data', (c: Buffer) => out.push(c));
        upRes.on('end', () => {
          requests.push({ method: req.method ?? '', path: req.url ?? '', headers, body, status: upRes.statusCode ?? 0 });
          const h = { ...upRes.headers };
          delete h['transfer-encoding'];
          const payload = Buffer.concat(out);
          res.writeHead(upRes.statusCode ?? 502, { ...h, 'content-length': String(payload.length) });
          res.end(payload);
        });
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    tamperNext: (f) => {
      tamper = f;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
