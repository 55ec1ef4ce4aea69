/**
 * Malformed HTTP against the real IMDS, container and ops listeners, over raw TCP.
 *
 * Properties, for every exchange:
 *  - the process survives, and each listener still answers a valid request afterwards;
 *  - every answered status is 1xx (interim), 2xx or 4xx; 5xx never, except 503 while the
 *    view holds no credentials (and /readyz's 503 then);
 *  - a 200 only for a request that could legitimately get one (a valid IMDS token, the
 *    container token, a well-formed token PUT, an ops probe);
 *  - the secret access key and session token appear only in answers to authorized requests;
 *  - nothing the listeners log contains a secret or a token, and no handler fails (500);
 *  - slow or stalled clients are cut off by the listener's own timeouts;
 *  - a flood of token PUTs leaves the token store at or under its cap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { ManualClock } from '../../src/core/clock.js';
import type { Credentials } from '../../src/core/credentials.js';
import type { LogFields, Logger } from '../../src/core/logger.js';
import {
  ImdsTokenStore,
  createContainerHandler,
  createImdsHandler,
  createOpsHandler,
  startListener,
  type CredentialView,
  type Listener,
  type ListenerLimits,
} from '../../src/serve/index.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();
import { parseResponses, pool, rawExchange, type ParsedResponse, type RawExchange } from './raw-http.js';

// ---------------------------------------------------------------- fixture

const ROLE = 'fuzz-role';
const SECRET = 'fuzzSECRETaccessKEYdoNotLeak0123456789abcd';
const SESSION_TOKEN = 'fuzzSESSIONtokenDoNotLeakIQoJb3JpZ2luX2VjEXAMPLE';
const CONTAINER_PATH = '/creds';
const CONTAINER_TOKEN = 'ctok_Zx9-4Qm2Lp7Rt5Vw8Ys3Hb6Nd1Kf0Jg';
const TTL = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN = 'x-aws-ec2-metadata-token';
const CREDS = '/latest/meta-data/iam/security-credentials/';
const EXT = '/latest/meta-data/iam/security-credentials-extended/';

/**
 * Short timeouts so stalled connections are cut within a couple of seconds (the defaults are
 * 5 s and 10 s), yet long enough that a busy test machine never times out a valid request.
 */
const LIMITS: Partial<ListenerLimits> = { headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 1000 };

class FuzzView implements CredentialView {
  generation = 0;
  private creds: Credentials | undefined;
  constructor(creds: Credentials | undefined) {
    this.creds = creds;
  }
  current(): Credentials | undefined {
    return this.creds;
  }
  set(c: Credentials | undefined): void {
    this.creds = c;
    this.generation++;
  }
}

interface LogEntry {
  level: string;
  msg: string;
  text: string;
}

/** Records every log line (with its fields flattened to text) so the test can inspect them. */
function recordingLogger(entries: LogEntry[], base: LogFields = {}): Logger {
  const write =
    (level: string) =>
    (msg: string, fields: LogFields = {}): void => {
      const all = { ...base, ...fields };
      const text = JSON.stringify(all, (_k, v: unknown) => (v instanceof Error ? { ...v, message: v.message, name: v.name } : v));
      entries.push({ level, msg, text });
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => recordingLogger(entries, { ...base, ...fields }),
  };
}

type ListenerName = 'imds' | 'container' | 'ops';

interface Fixture {
  clock: ManualClock;
  view: FuzzView;
  tokens: ImdsTokenStore;
  listeners: Record<ListenerName, Listener>;
  logs: LogEntry[];
  /** IMDS tokens issued by the test and still valid. */
  live: string[];
  /** IMDS tokens issued by the test whose TTL has run out. */
  expired: string[];
}

let fx: Fixture;

function credentials(now: number): Credentials {
  return {
    accessKeyId: 'ASIAFUZZACCESSKEY0001',
    secretAccessKey: SECRET,
    sessionToken: SESSION_TOKEN,
    expiration: now + 3600_000,
    roleArn: 'arn:aws:iam::123456789012:role/fuzz-role',
    accountId: '123456789012',
  };
}

before(async () => {
  const clock = new ManualClock(Date.now());
  const view = new FuzzView(credentials(clock.now()));
  const tokens = new ImdsTokenStore({ clock });
  const logs: LogEntry[] = [];
  const logger = recordingLogger(logs);
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  const common = { host: '127.0.0.1', port: 0, limits: LIMITS, logger, metrics };
  const imds = await startListener({
    ...common,
    name: 'imds',
    handler: createImdsHandler({ view, roleName: ROLE, tokens, clock, logger, metrics }),
  });
  const container = await startListener({
    ...common,
    name: 'container',
    handler: createContainerHandler({ view, path: CONTAINER_PATH, token: CONTAINER_TOKEN, clock, logger }),
  });
  const ops = await startListener({
    ...common,
    name: 'ops',
    handler: createOpsHandler({
      readiness: () => (view.current() !== undefined ? { ready: true } : { ready: false, reason: 'no credentials yet' }),
      registry,
      logger,
    }),
  });
  fx = { clock, view, tokens, listeners: { imds, container, ops }, logs, live: [], expired: [] };
  // Tokens the fuzzer can reuse: live ones, and ones whose TTL ran out on the manual clock.
  for (let i = 0; i < 2; i++) fx.expired.push(await mintToken(1));
  clock.advance(2_000);
  view.set(credentials(clock.now()));
  for (let i = 0; i < 3; i++) fx.live.push(await mintToken(21600));
});

after(async () => {
  await Promise.all(Object.values(fx.listeners).map((l) => l.close(1000)));
});

// ---------------------------------------------------------------- well-formed client

interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpRequest(l: Listener, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: l.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function mintToken(ttl: number): Promise<string> {
  const r = await httpRequest(fx.listeners.imds, '/latest/api/token', 'PUT', { [TTL]: String(ttl) });
  assert.equal(r.status, 200, r.body);
  return r.body;
}

/** Each listener still serves a valid request (the process and the listeners survived). */
async function assertListenersServe(withCredentials: boolean): Promise<void> {
  const token = await mintToken(21600);
  const imds = await httpRequest(fx.listeners.imds, `${CREDS}${ROLE}`, 'GET', { [TOKEN]: token });
  const container = await httpRequest(fx.listeners.container, CONTAINER_PATH, 'GET', { authorization: CONTAINER_TOKEN });
  const health = await httpRequest(fx.listeners.ops, '/healthz');
  const ready = await httpRequest(fx.listeners.ops, '/readyz');
  const metrics = await httpRequest(fx.listeners.ops, '/metrics');
  assert.equal(health.status, 200);
  assert.equal(metrics.status, 200);
  assert.ok(!metrics.body.includes(SECRET) && !metrics.body.includes(token));
  if (withCredentials) {
    assert.equal(imds.status, 200, imds.body);
    assert.equal((JSON.parse(imds.body) as { SecretAccessKey: string }).SecretAccessKey, SECRET);
    assert.equal(container.status, 200, container.body);
    assert.equal((JSON.parse(container.body) as { Token: string }).Token, SESSION_TOKEN);
    assert.equal(ready.status, 200);
  } else {
    assert.equal(imds.status, 503);
    assert.equal(container.status, 503);
    assert.equal(ready.status, 503);
  }
}

/** No handler failed (a 500 is logged as an error) and no log line carries a secret or token. */
function assertLogsClean(): void {
  const tokens = [...fx.live, CONTAINER_TOKEN];
  for (const e of fx.logs) {
    assert.notEqual(e.level, 'error', `unexpected error log: ${e.msg} ${e.text.slice(0, 300)}`);
    const line = `${e.msg} ${e.text}`;
    for (const s of [SECRET, SESSION_TOKEN, ...tokens]) assert.ok(!line.includes(s), `a log line carries a secret or token: ${e.msg}`);
  }
}

// ---------------------------------------------------------------- request model

type Part = string | Buffer;

interface FuzzRequest {
  method: Part;
  target: Part;
  /** Empty: a request line with no version (HTTP/0.9 style). */
  version: string;
  headers: Array<[Part, Part]>;
  body: Buffer;
  /** How the body is framed: a matching Content-Length, chunked, a wrong length, or no framing at all. */
  framing: 'none' | 'length' | 'chunked' | 'bad-chunked' | 'short-length' | 'long-length';
}

interface FuzzCase {
  listener: ListenerName;
  requests: FuzzRequest[];
  /** Cut the byte stream short (a truncated request followed by close). */
  truncateAt?: number;
  mode: 'half-close' | 'wait';
}

const bytes = (p: Part): Buffer => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
const text = (p: Part): string => (typeof p === 'string' ? p : p.toString('latin1'));

function serialize(r: FuzzRequest): Buffer {
  const parts: Buffer[] = [bytes(r.method), Buffer.from(' '), bytes(r.target)];
  if (r.version !== '') parts.push(Buffer.from(` ${r.version}`));
  parts.push(Buffer.from('\r\n'));
  const headers = [...r.headers];
  let body = r.body;
  switch (r.framing) {
    case 'length':
      headers.push(['Content-Length', String(body.length)]);
      break;
    case 'short-length':
      headers.push(['Content-Length', String(Math.max(0, body.length - 3))]);
      break;
    case 'long-length':
      headers.push(['Content-Length', String(body.length + 7)]);
      break;
    case 'chunked':
      headers.push(['Transfer-Encoding', 'chunked']);
      body = body.length === 0 ? Buffer.from('0\r\n\r\n') : Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'bad-chunked':
      headers.push(['Transfer-Encoding', 'chunked']);
      body = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n')]);
      break;
    case 'none':
      break;
  }
  for (const [n, v] of headers) parts.push(bytes(n), Buffer.from(': '), bytes(v), Buffer.from('\r\n'));
  parts.push(Buffer.from('\r\n'), body);
  return Buffer.concat(parts);
}

/** Header values as Node hands them to handlers: optional whitespace trimmed. */
function headerValues(r: FuzzRequest, name: string): string[] {
  return r.headers.filter(([n]) => text(n).toLowerCase() === name).map(([, v]) => text(v).replace(/^[ \t]+|[ \t]+$/g, ''));
}

/** Whether a request could legitimately be answered 200 by `listener` (a necessary condition). */
function may200(listener: ListenerName, r: FuzzRequest): boolean {
  // Node's parser accepts `GET  /path` (the method's trailing blank is a separator).
  const method = text(r.method).trim();
  switch (listener) {
    case 'imds': {
      const tok = headerValues(r, TOKEN);
      if (tok.length === 1 && fx.live.includes(tok[0]!)) return true;
      const ttl = headerValues(r, TTL);
      return (
        method === 'PUT' &&
        ttl.length === 1 &&
        /^[1-9][0-9]{0,4}$/.test(ttl[0]!) &&
        Number(ttl[0]) <= 21600 &&
        headerValues(r, 'x-forwarded-for').length === 0 &&
        headerValues(r, 'origin').length === 0
      );
    }
    case 'container':
      // Node keeps the first of repeated Authorization headers.
      return headerValues(r, 'authorization')[0] === CONTAINER_TOKEN && (method === 'GET' || method === 'HEAD');
    case 'ops':
      return method === 'GET' || method === 'HEAD';
  }
}

/** Whether a request is authorized to read the credentials from `listener`. */
function mayReadSecret(listener: ListenerName, r: FuzzRequest): boolean {
  const method = text(r.method).trim();
  if (method !== 'GET') return false;
  if (listener === 'imds') {
    const tok = headerValues(r, TOKEN);
    return tok.length === 1 && fx.live.includes(tok[0]!);
  }
  if (listener === 'container') return headerValues(r, 'authorization')[0] === CONTAINER_TOKEN;
  return false;
}

// ---------------------------------------------------------------- generators

const flipChar = (s: string, i: number): string => {
  const k = i % s.length;
  const c = s[k] === 'A' ? 'B' : 'A';
  return s.slice(0, k) + c + s.slice(k + 1);
};

const binary = (min: number, max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

const methodArb: fc.Arbitrary<Part> = fc.oneof(
  { weight: 16, arbitrary: fc.constantFrom('GET', 'GET', 'HEAD', 'PUT', 'PUT') },
  { weight: 3, arbitrary: fc.constantFrom('POST', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PRI', 'M-SEARCH', 'PROPFIND', 'SOURCE', 'QUERY', 'LINK') },
  { weight: 2, arbitrary: fc.constantFrom('get', 'put', 'head', 'Get', 'pUT', 'GET ', ' GET', 'GE T', 'GET\t', 'G\u00c9T', 'ＧＥＴ') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,16}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 0, maxLength: 12, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.integer({ min: 64, max: 12_000 }).map((n) => 'G'.repeat(n)) },
  { weight: 1, arbitrary: binary(1, 16) },
);

const PATHS: Record<ListenerName, readonly string[]> = {
  imds: [
    '/latest/api/token',
    '/latest/api/token',
    CREDS,
    `${CREDS}${ROLE}`,
    `${CREDS}${ROLE}`,
    EXT,
    `${EXT}${ROLE}`,
    CREDS.slice(0, -1),
    '/latest/meta-data/',
    '/latest/meta-data/placement/region',
    '/',
  ],
  container: [CONTAINER_PATH, CONTAINER_PATH, `${CONTAINER_PATH}/`, '/credentials', '/'],
  ops: ['/healthz', '/readyz', '/metrics', '/'],
};
const ALL_PATHS = [...PATHS.imds, ...PATHS.container, ...PATHS.ops];

const mutation = (f: (p: string) => string): fc.Arbitrary<(p: string) => string> => fc.constant(f);
const pathMutation: fc.Arbitrary<(p: string) => string> = fc.oneof(
  { weight: 30, arbitrary: mutation((p) => p) },
  { weight: 3, arbitrary: mutation((p) => p.replace(/\//g, '//')) },
  { weight: 2, arbitrary: mutation((p) => `//${p}`) },
  { weight: 2, arbitrary: mutation((p) => `${p}?x=1&y=%zz`) },
  { weight: 2, arbitrary: mutation((p) => p.replace(ROLE, '%66uzz-role')) },
  { weight: 1, arbitrary: mutation((p) => `${p}/`) },
  { weight: 1, arbitrary: mutation((p) => `${p}#frag`) },
  { weight: 1, arbitrary: mutation((p) => `${p}/..`) },
  { weight: 1, arbitrary: mutation((p) => p.replace('/latest/', '/latest/../latest/')) },
  { weight: 1, arbitrary: mutation((p) => p.replace('/meta-data/', '/./meta-data/')) },
  { weight: 1, arbitrary: mutation((p) => `http://127.0.0.1${p}`) },
  { weight: 1, arbitrary: mutation((p) => `HTTP://localhost:1${p}`) },
  { weight: 1, arbitrary: mutation((p) => `https://[::1${p}`) },
  { weight: 1, arbitrary: mutation((p) => p.replace(ROLE, '%66uzz%2Drole')) },
  { weight: 1, arbitrary: mutation((p) => p.replace(ROLE, 'fuzz%2frole')) },
  { weight: 1, arbitrary: mutation((p) => p.replace(ROLE, '%E0%A4%A')) },
  { weight: 1, arbitrary: mutation((p) => p.replace(ROLE, 'FUZZ-ROLE')) },
  { weight: 1, arbitrary: mutation((p) => p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)) },
  { weight: 1, arbitrary: mutation((p) => p.replace(/\//g, '%2F')) },
  { weight: 1, arbitrary: mutation((p) => p.replace(/\//g, '\\')) },
  { weight: 1, arbitrary: mutation((p) => `${p}%00`) },
  { weight: 1, arbitrary: mutation((p) => `${p}\u00e9\u4e2d\u{1f600}`) },
  { weight: 1, arbitrary: mutation((p) => p.toUpperCase()) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 12_000 }).map((n) => (p: string) => `${p}${'a'.repeat(n)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => (p: string) => `${'/'.repeat(n)}${p}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 500 }).map((n) => (p: string) => `${p}${'/..'.repeat(n)}`) },
);

const targetFor = (l: ListenerName): fc.Arbitrary<Part> =>
  fc.oneof(
    { weight: 16, arbitrary: fc.tuple(fc.constantFrom(...PATHS[l]), pathMutation).map(([p, f]) => f(p)) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ALL_PATHS), pathMutation).map(([p, f]) => f(p)) },
    { weight: 1, arbitrary: fc.constantFrom('', '*', '?', '#', 'latest/api/token', '/%', '/%%', '%2Flatest%2Fapi%2Ftoken', '/\u0000', '/ /', '/\t/') },
    { weight: 1, arbitrary: fc.webPath() },
    { weight: 1, arbitrary: fc.string({ maxLength: 64, unit: 'grapheme' }).map((s) => `/${s}`) },
    { weight: 1, arbitrary: binary(1, 32) },
  );

const versionArb = fc.oneof(
  { weight: 20, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 3, arbitrary: fc.constant('HTTP/1.0') },
  { weight: 2, arbitrary: fc.constantFrom('', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/3', 'http/1.1', 'HTTP/11', 'HTTP/1.1 x', 'HTTP/1.1\t', 'HTTP/9.9') },
);

const ttlValueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('21600', '1', '300', '60') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '0',
      '-1',
      '21601',
      '99999',
      '1.5',
      '5.0',
      '0x10',
      '0X10',
      '+5',
      '05',
      ' 5 ',
      '\t60',
      '1e3',
      '',
      '٥',
      '１２',
      '6\u00a0',
      '21600, 21600',
      '60;',
      '6 0',
    ),
  },
  { weight: 2, arbitrary: fc.integer({ min: -100_000, max: 100_000 }).map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);

/** Tokens: valid, expired, and near misses of valid ones. */
const imdsTokenArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 2 }).map((i) => fx.live[i]!) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 1 }).map((i) => fx.expired[i]!) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.constantFrom('flip', 'cut', 'extend', 'upper', 'bearer', 'pad', 'twice', 'b64'))
      .map(([i, at, how]) => {
        const t = fx.live[i]!;
        switch (how) {
          case 'flip':
            return flipChar(t, at);
          case 'cut':
            return t.slice(0, at % t.length);
          case 'extend':
            return `${t}A`;
          case 'upper':
            return t.toUpperCase() === t ? t.toLowerCase() : t.toUpperCase();
          case 'bearer':
            return `Bearer ${t}`;
          case 'pad':
            return `  ${t}\t`;
          case 'twice':
            return `${t}${t}`;
          default:
            return Buffer.from(t).toString('base64');
        }
      }),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 6000 }).map((n) => 'x'.repeat(n)) },
);

const containerTokenArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(CONTAINER_TOKEN) },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.nat(), fc.constantFrom('flip', 'cut', 'extend', 'bearer', 'pad', 'lower')).map(([at, how]) => {
      switch (how) {
        case 'flip':
          return flipChar(CONTAINER_TOKEN, at);
        case 'cut':
          return CONTAINER_TOKEN.slice(0, at % CONTAINER_TOKEN.length);
        case 'extend':
          return `${CONTAINER_TOKEN}=`;
        case 'bearer':
          return `Bearer ${CONTAINER_TOKEN}`;
        case 'pad':
          return ` ${CONTAINER_TOKEN} `;
        default:
          return CONTAINER_TOKEN.toLowerCase();
      }
    }),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

type Headers = Array<[Part, Part]>;
const one = (name: string, v: fc.Arbitrary<string>): fc.Arbitrary<Headers> => v.map((x) => [[name, x]] as Headers);

/** Headers a listener reads: IMDS TTL and token, the container Authorization (once or twice). */
const semanticHeaders: Record<ListenerName, fc.Arbitrary<Headers>> = {
  imds: fc.oneof(
    { weight: 4, arbitrary: one(TTL, ttlValueArb) },
    { weight: 1, arbitrary: one('X-AWS-EC2-Metadata-Token-TTL-Seconds', ttlValueArb) },
    { weight: 5, arbitrary: one(TOKEN, imdsTokenArb) },
    { weight: 1, arbitrary: one('X-Aws-Ec2-Metadata-Token', imdsTokenArb) },
    { weight: 1, arbitrary: fc.constantFrom<Headers>([['X-Forwarded-For', '10.0.0.1']], [['Origin', 'http://evil.example']], [['Sec-Fetch-Mode', 'cors']]) },
  ),
  container: fc.oneof(
    { weight: 5, arbitrary: one('Authorization', containerTokenArb) },
    { weight: 1, arbitrary: one('AUTHORIZATION', containerTokenArb) },
    {
      weight: 2,
      arbitrary: fc.tuple(containerTokenArb, containerTokenArb).map(
        ([a, b]) =>
          [
            ['Authorization', a],
            ['authorization', b],
          ] as Headers,
      ),
    },
  ),
  ops: fc.constantFrom<Headers>([['Accept', 'text/plain']], [['Accept', 'application/openmetrics-text; version=1.0.0']], [['Origin', 'http://evil.example']]),
};

/** Headers no listener reads but Node's parser does: framing, connection handling, junk, floods. */
const junkHeaders: fc.Arbitrary<Headers> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom<Headers>(
      [['Connection', 'close']],
      [['Connection', 'keep-alive']],
      [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
      ],
      [['Upgrade', 'h2c']],
      [['Expect', '100-continue']],
      [['Expect', 'something-else']],
      [['Content-Length', 'abc']],
      [['Content-Length', '-1']],
      [['Content-Length', '99999999999999999999999']],
      [['Content-Length', '1025']],
      [['Content-Length', '0, 0']],
      [
        ['Content-Length', '0'],
        ['Content-Length', '5'],
      ],
      [['Transfer-Encoding', 'gzip']],
      [['Transfer-Encoding', 'chunked, identity']],
      [['Host', '']],
      [['Host', 'evil.example:80']],
      [
        ['Host', 'a'],
        ['Host', 'b'],
      ],
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }), fc.string({ maxLength: 40, unit: 'binary' }))
      .map(([n, v]) => [[n, v]] as Headers),
  },
  { weight: 1, arbitrary: fc.tuple(binary(1, 8), binary(0, 24)).map(([n, v]) => [[n, v]] as Headers) },
  // Values beyond the 8 KiB header limit, and floods of headers.
  { weight: 1, arbitrary: fc.integer({ min: 4_000, max: 40_000 }).map((n) => [['X-Big', 'v'.repeat(n)]] as Headers) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 3_000 }).map((n) => Array.from({ length: n }, (_, i) => [`X-F${i}`, 'y'] as [Part, Part])) },
);

const bodyArb: fc.Arbitrary<Pick<FuzzRequest, 'body' | 'framing'>> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ body: Buffer.alloc(0), framing: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ body: binary(1, 64), framing: fc.constantFrom('none', 'length', 'chunked', 'bad-chunked', 'short-length', 'long-length') }),
  },
  { weight: 1, arbitrary: fc.record({ body: binary(900, 3000), framing: fc.constantFrom('none', 'length', 'chunked', 'short-length', 'long-length') }) },
);

const requestFor = (l: ListenerName): fc.Arbitrary<FuzzRequest> =>
  fc
    .record({
      method: methodArb,
      target: targetFor(l),
      version: versionArb,
      host: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      headers: fc.array(fc.oneof({ weight: 6, arbitrary: semanticHeaders[l] }, { weight: 1, arbitrary: junkHeaders }), { maxLength: 4 }),
      body: bodyArb,
    })
    .map(({ host, headers, body, ...r }) => ({ ...r, ...body, headers: [...(host ? ([['Host', '127.0.0.1']] as Headers) : []), ...headers.flat()] }));

/** Requests Node parses completely and hands to the handler (pipelined on a kept-alive connection). */
const printablePath = (paths: readonly string[]): fc.Arbitrary<string> =>
  fc
    .tuple(fc.constantFrom(...paths), pathMutation)
    .map(([p, f]) => f(p))
    .filter((p) => p.length < 2000 && /^[\x21-\x7e]+$/.test(p));

const maybe = (h: fc.Arbitrary<Headers>): fc.Arbitrary<Headers> => fc.oneof({ weight: 3, arbitrary: fc.constant([] as Headers) }, { weight: 1, arbitrary: h });

/**
 * The requests each listener exists for, with one or more parts perturbed: token PUTs and
 * credential GETs for IMDS, credential GETs for the container endpoint, probes for ops.
 * These reach the handlers' every branch, where random bytes mostly reach Node's parser.
 */
const nearValidFor = (l: ListenerName): fc.Arbitrary<{ method: Part; target: string; headers: Headers }> => {
  const getish = fc.constantFrom<Part>('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE');
  switch (l) {
    case 'imds':
      return fc.oneof(
        fc
          .record({
            method: fc.constantFrom<Part>('PUT', 'PUT', 'PUT', 'GET', 'POST'),
            target: printablePath(['/latest/api/token']),
            ttl: one(TTL, ttlValueArb),
            extra: maybe(fc.oneof(semanticHeaders.imds, fc.constantFrom<Headers>([['X-Forwarded-For', '10.0.0.1']], [['Origin', 'http://evil.example']]))),
          })
          .map(({ ttl, extra, ...r }) => ({ ...r, headers: [...ttl, ...extra] })),
        fc
          .record({
            method: getish,
            target: printablePath([CREDS, `${CREDS}${ROLE}`, `${CREDS}${ROLE}`, EXT, `${EXT}${ROLE}`, '/latest/meta-data/']),
            token: maybe(one(TOKEN, imdsTokenArb)).chain((h) => (h.length === 0 ? one(TOKEN, imdsTokenArb) : fc.constant([...h, ...h]))),
            extra: maybe(semanticHeaders.imds),
          })
          .map(({ token, extra, ...r }) => ({ ...r, headers: [...token, ...extra] })),
      );
    case 'container':
      return fc.record({ method: getish, target: printablePath([CONTAINER_PATH]), headers: semanticHeaders.container });
    case 'ops':
      return fc.record({ method: getish, target: printablePath(PATHS.ops), headers: maybe(semanticHeaders.ops) });
  }
};

/** Requests Node parses completely and hands to the handler (pipelined on a kept-alive connection). */
const wellFormedFor = (l: ListenerName): fc.Arbitrary<FuzzRequest> =>
  fc
    .record({
      shape: fc.oneof(
        { weight: 3, arbitrary: nearValidFor(l) },
        {
          weight: 1,
          arbitrary: fc.record({
            method: fc.constantFrom<Part>('GET', 'HEAD', 'PUT', 'POST'),
            target: printablePath(PATHS[l]),
            headers: fc.array(semanticHeaders[l], { maxLength: 3 }).map((hs) => hs.flat()),
          }),
        },
      ),
      body: fc.oneof({ weight: 4, arbitrary: fc.constant(Buffer.alloc(0)) }, { weight: 1, arbitrary: binary(1, 200) }),
      framing: fc.constantFrom('length' as const, 'chunked' as const),
    })
    .map(({ shape, ...r }) => ({
      ...r,
      method: shape.method,
      target: shape.target,
      version: 'HTTP/1.1',
      headers: [['Host', '127.0.0.1'] as [Part, Part], ...shape.headers],
    }));

const caseArb: fc.Arbitrary<FuzzCase> = fc.constantFrom<ListenerName>('imds', 'container', 'ops').chain((listener) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        listener: fc.constant(listener),
        requests: fc.array(fc.oneof(requestFor(listener), wellFormedFor(listener)), { minLength: 1, maxLength: 3 }),
        mode: fc.constant('half-close' as const),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        listener: fc.constant(listener),
        requests: fc.array(wellFormedFor(listener), { minLength: 1, maxLength: 8 }),
        mode: fc.constant('wait' as const),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        listener: fc.constant(listener),
        requests: fc.array(requestFor(listener), { minLength: 1, maxLength: 2 }),
        truncateAt: fc.nat(),
        mode: fc.constant('half-close' as const),
      }),
    },
  ),
);

// ---------------------------------------------------------------- running a case

function describeCase(c: FuzzCase, wire: Buffer): string {
  const shown = wire.length > 600 ? `${wire.subarray(0, 600).toString('latin1')}...(${wire.length} bytes)` : wire.toString('latin1');
  return `${c.listener} ${c.mode}: ${JSON.stringify(shown)}`;
}

/** What the fuzzer reached, so a generator that stops reaching the handlers fails the test. */
interface Tally {
  statuses: Map<string, number>;
  credentialsServed: number;
}

function newTally(): Tally {
  return { statuses: new Map(), credentialsServed: 0 };
}

async function runCase(c: FuzzCase, emptyView: boolean, tally: Tally): Promise<void> {
  let wire = Buffer.concat(c.requests.map(serialize));
  if (c.truncateAt !== undefined) wire = wire.subarray(0, c.truncateAt % Math.max(1, wire.length));
  const methods = c.requests.map((r) => text(r.method));
  const ex: RawExchange = await rawExchange(fx.listeners[c.listener].port, {
    chunks: [wire],
    mode: c.mode,
    expect: c.requests.length,
    methods,
    deadlineMs: 5_000,
  });
  const where = describeCase(c, wire);
  assert.ok(ex.finished, `the server neither answered nor closed within 5 s: ${where}`);
  const parsed = parseResponses(ex.data, methods, c.mode === 'half-close');
  if (ex.socketError === undefined && c.mode === 'half-close') {
    assert.equal(parsed.tail.length, 0, `unparseable response bytes ${JSON.stringify(parsed.tail.subarray(0, 200).toString('latin1'))}: ${where}`);
  }
  for (const s of parsed.interim) assert.equal(s, 100, `interim status ${s}: ${where}`);
  parsed.responses.forEach((res: ParsedResponse, i: number) => {
    const req = c.requests[i];
    const s = res.status;
    const ctx = `response #${i + 1} ${s}: ${where}`;
    const ok2xx4xx = (s >= 200 && s < 300) || (s >= 400 && s < 500);
    const ok503 = s === 503 && emptyView;
    assert.ok(ok2xx4xx || ok503, `status outside 2xx/4xx: ${ctx}`);
    if (s === 200) assert.ok(req !== undefined && may200(c.listener, req), `200 for a request that may not have one: ${ctx}`);
    if (s >= 200 && s < 300) assert.equal(s, 200, `unexpected 2xx: ${ctx}`);
    const key = `${c.listener} ${s}`;
    tally.statuses.set(key, (tally.statuses.get(key) ?? 0) + 1);
    const raw = res.raw.toString('latin1');
    if (raw.includes(SECRET) || raw.includes(SESSION_TOKEN)) {
      tally.credentialsServed++;
      assert.ok(req !== undefined && s === 200 && mayReadSecret(c.listener, req), `credentials leaked: ${ctx}`);
    }
    if (raw.includes(CONTAINER_TOKEN)) assert.fail(`the container token was echoed: ${ctx}`);
  });
}

// ---------------------------------------------------------------- tests

describe('HTTP listeners under malformed input', { concurrency: false }, () => {
  test('random, malformed, pipelined and truncated requests: no crash, no 5xx, no unearned 200, no leak', async () => {
    const tally = newTally();
    await fc.assert(
      fc.asyncProperty(fc.array(caseArb, { minLength: 8, maxLength: 8 }), async (cases) => {
        await Promise.all(cases.map((c) => runCase(c, false, tally)));
      }),
      // No shrinking: cases run 8 at a time over the network, and the failure message already
      // carries the exact bytes sent. The time limit keeps a loaded machine from dragging on.
      { numRuns: 200, includeErrorInReport: true, endOnFailure: true, interruptAfterTimeLimit: 15_000 },
    );
    if (process.env.FUZZ_VERBOSE) console.log(tally);
    // The generators reach every branch worth reaching: handlers' success and refusal paths,
    // and Node's own parser and size refusals.
    for (const k of [
      'imds 200',
      'imds 400',
      'imds 401',
      'imds 403',
      'imds 404',
      'imds 405',
      'container 200',
      'container 403',
      'container 404',
      'container 405',
      'ops 200',
      'ops 404',
      'ops 405',
    ]) {
      assert.ok((tally.statuses.get(k) ?? 0) > 0, `the fuzzer never produced ${k}`);
    }
    const refusedBySize = [...tally.statuses].filter(([k]) => k.endsWith(' 413') || k.endsWith(' 431')).reduce((n, [, v]) => n + v, 0);
    assert.ok(refusedBySize > 0, 'the fuzzer never exceeded a size limit');
    assert.ok(tally.credentialsServed > 0, 'the fuzzer never reached a credentials answer');
    assert.ok(fx.tokens.size <= fx.tokens.maxTokens);
    await assertListenersServe(true);
    assertLogsClean();
  });

  test('the same with no credentials held: 503 is the only 5xx, and no 200 carries credentials', async () => {
    fx.view.set(undefined);
    const tally = newTally();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(caseArb, { minLength: 8, maxLength: 8 }), async (cases) => {
          await Promise.all(cases.map((c) => runCase(c, true, tally)));
        }),
        { numRuns: 50, includeErrorInReport: true, endOnFailure: true, interruptAfterTimeLimit: 6_000 },
      );
      if (process.env.FUZZ_VERBOSE) console.log(tally);
      assert.equal(tally.credentialsServed, 0);
      assert.ok((tally.statuses.get('imds 503') ?? 0) + (tally.statuses.get('container 503') ?? 0) > 0, 'the fuzzer never reached a 503');
      await assertListenersServe(false);
    } finally {
      fx.view.set(credentials(fx.clock.now()));
    }
    await assertListenersServe(true);
    assertLogsClean();
  });

  test('slow and stalled clients are cut off by the listener timeouts while others are served', async () => {
    const head = (l: ListenerName): string =>
      l === 'imds'
        ? `PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n${TTL}: 21600\r\n`
        : l === 'container'
          ? `GET ${CONTAINER_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: ${CONTAINER_TOKEN}\r\n`
          : 'GET /healthz HTTP/1.1\r\nHost: x\r\n';
    const stalls: Array<{ listener: ListenerName; name: string; chunks: Buffer[]; drip?: { chunk: Buffer; everyMs: number } }> = [];
    for (const l of ['imds', 'container', 'ops'] as const) {
      stalls.push(
        { listener: l, name: `${l}: nothing sent`, chunks: [] },
        { listener: l, name: `${l}: partial request line`, chunks: [Buffer.from('GET /latest/api/to')] },
        { listener: l, name: `${l}: partial headers`, chunks: [Buffer.from(head(l))] },
        { listener: l, name: `${l}: header dripped forever`, chunks: [Buffer.from(head(l))], drip: { chunk: Buffer.from('X-Drip: 1\r\n'), everyMs: 100 } },
        { listener: l, name: `${l}: byte dripped forever`, chunks: [Buffer.from('G')], drip: { chunk: Buffer.from('E'), everyMs: 50 } },
        { listener: l, name: `${l}: body shorter than Content-Length`, chunks: [Buffer.from(`${head(l)}Content-Length: 100\r\n\r\n0123456789`)] },
        {
          listener: l,
          name: `${l}: body dripped`,
          chunks: [Buffer.from(`${head(l)}Content-Length: 1000\r\n\r\n`)],
          drip: { chunk: Buffer.from('x'), everyMs: 100 },
        },
        { listener: l, name: `${l}: unfinished chunked body`, chunks: [Buffer.from(`${head(l)}Transfer-Encoding: chunked\r\n\r\n5\r\nab`)] },
        { listener: l, name: `${l}: idle keep-alive after a complete request`, chunks: [Buffer.from(`${head(l)}\r\n`)] },
      );
    }
    const held = Promise.all(
      stalls.map(async (s) => ({
        s,
        ex: await rawExchange(fx.listeners[s.listener].port, {
          chunks: s.chunks,
          mode: 'hold',
          deadlineMs: 8_000,
          ...(s.drip !== undefined ? { drip: s.drip } : {}),
        }),
      })),
    );
    // While every stalled connection is held open, the listeners still serve.
    await assertListenersServe(true);
    for (const { s, ex } of await held) {
      assert.ok(ex.finished, `the server kept a stalled connection open for 8 s: ${s.name}`);
      const parsed = parseResponses(ex.data, [], true);
      for (const r of parsed.responses) {
        const okIdle = s.name.includes('idle keep-alive') && r.status === 200;
        assert.ok(okIdle || r.status === 408 || r.status === 400, `${s.name}: status ${r.status}`);
      }
    }
    await assertListenersServe(true);
    assertLogsClean();
  });

  test('a pipelined request with Expect: 100-continue gets an intact response', async () => {
    const wire = Buffer.from(
      `PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n${TTL}: 60\r\n\r\nGET /latest/api/token HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n`,
    );
    const ex = await rawExchange(fx.listeners.imds.port, { chunks: [wire], mode: 'half-close', deadlineMs: 5_000 });
    const parsed = parseResponses(ex.data, ['PUT', 'GET'], true);
    assert.deepEqual(
      parsed.responses.map((r) => r.status),
      [200, 405],
    );
    assert.equal(parsed.responses[1]?.body.toString('latin1'), 'Method Not Allowed');
    assert.equal(parsed.tail.length, 0, JSON.stringify(ex.data.toString('latin1')));
  });

  test('a flood of token PUTs keeps the token store within its cap and evicts the oldest tokens', async (t) => {
    const clock = new ManualClock(Date.now());
    const view = new FuzzView(credentials(clock.now()));
    const tokens = new ImdsTokenStore({ clock, maxTokens: 1_000 });
    const imds = await startListener({
      name: 'imds',
      host: '127.0.0.1',
      port: 0,
      // Default limits: this test is about memory, not timeouts, and must not trip on a busy machine.
      handler: createImdsHandler({ view, roleName: ROLE, tokens, clock }),
    });
    t.after(() => imds.close(1000));
    const put = `PUT //latest/api/token HTTP/1.1\r\nHost: x\r\n${TTL}: 21600\r\n\r\n`;
    const perConnection = 100;
    const connections = 100;
    const results = await pool(
      Array.from(
        { length: connections },
        () => () =>
          rawExchange(imds.port, { chunks: [Buffer.from(put.repeat(perConnection))], mode: 'wait', expect: perConnection, methods: [], deadlineMs: 10_000 }),
      ),
      8,
    );
    const issued: string[] = [];
    for (const ex of results) {
      assert.ok(ex.finished);
      const parsed = parseResponses(ex.data, [], false);
      assert.equal(
        parsed.responses.length,
        perConnection,
        `socket error ${ex.socketError ?? 'none'}; received ${JSON.stringify(ex.data.subarray(0, 300).toString('latin1'))}`,
      );
      for (const r of parsed.responses) {
        assert.equal(r.status, 200);
        issued.push(r.body.toString('latin1'));
      }
    }
    assert.equal(issued.length, connections * perConnection);
    assert.equal(new Set(issued).size, issued.length, 'every token is distinct');
    assert.ok(tokens.size <= tokens.maxTokens, `store holds ${tokens.size} tokens, cap ${tokens.maxTokens}`);
    // Evicted tokens are refused; a fresh one works.
    const oldest = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: imds.port, path: CREDS, headers: { [TOKEN]: issued[0]! }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(oldest, 401);
    assert.equal(tokens.isValid(issued[issued.length - 1]!), true);
  });
});
