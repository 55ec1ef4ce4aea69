// Test support for the serve/ tests (under test/, so it never ships): a settable CredentialView
// and a raw HTTP client that sends paths exactly as given (`//latest/...` included).
import { request, type OutgoingHttpHeaders } from 'node:http';
import type { Credentials } from '../../src/core/credentials.js';
import type { CredentialView } from '../../src/serve/view.js';

/** A CredentialView holding whatever the test sets, counting generations like the refresher. */
export class SettableView implements CredentialView {
  generation = 0;
  private creds: Credentials | undefined;
  constructor(creds?: Credentials) {
    this.creds = creds;
  }
  current(): Credentials | undefined {
    return this.creds;
  }
  set(creds: Credentials | undefined): void {
    this.creds = creds;
    this.generation++;
  }
}

export function testCredentials(expiration: number, suffix = '1'): Credentials {
  return {
    accessKeyId: `ASIATESTACCESSKEY${suffix}`,
    secretAccessKey: `test/secret+access/key${suffix}`,
    sessionToken: `IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN${suffix}`,
    expiration,
    roleArn: 'arn:aws:iam::123456789012:role/test-role',
    accountId: '123456789012',
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a fresh connection (no agent), so no socket outlives the test. */
export function rawRequest(
  base: URL,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: base.port,
        method: options.method ?? 'GET',
        path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
