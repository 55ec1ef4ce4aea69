/**
 * The ceiling: the smallest node:http server that answers every request with the bytes the
 * sidecar sends for a credentials GET (same status, headers and body, read from the JSON
 * file named by argv[2]). Run as its own process, like the sidecar, so both are measured
 * under the same conditions. Prints `{"port":N}` on stdout once listening.
 */
import { readFileSync } from 'node:fs';
import { createServer, type OutgoingHttpHeaders } from 'node:http';

export interface CannedResponse {
  status: number;
  headers: Record<string, string>;
  bodyBase64: string;
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: bare-server.js <canned-response.json>\n');
  process.exit(2);
}
const canned = JSON.parse(readFileSync(file, 'utf8')) as CannedResponse;
const body = Buffer.from(canned.bodyBase64, 'base64');
const headers: OutgoingHttpHeaders = { ...canned.headers, 'content-length': body.length };

const server = createServer((_req, res) => {
  res.writeHead(canned.status, headers);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr !== null ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
