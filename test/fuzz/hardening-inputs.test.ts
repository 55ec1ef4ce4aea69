/**
 * Property-based fuzzing of the inputs the hardening round added: the Host header and
 * --allowed-host values (DNS rebinding guard), the Origin/Sec-Fetch refusal, the `Date`
 * response header and the clock correction it drives, the throttle-aware and Retry-After
 * backoff, and the retrying writer's ordering under any interleaving of new content and
 * failing writes. Each function either returns a well-formed value or refuses; none throws.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { VirtualTime } from '../../src/core/timers.js';
import { nullLogger } from '../../src/core/logger.js';
import { SidecarError } from '../../src/core/errors.js';
import { checkBrowser, checkHost, guardCredentialRequest, hostOf, normaliseAllowedHost } from '../../src/serve/request-guard.js';
import { nextClockOffset, parseDateHeader, SIGNING_WINDOW_MS } from '../../src/session/client.js';
import { failureRetryDelayMs, THROTTLED_RETRY_CAP_MS } from '../../src/refresh/schedule.js';
import { RetryingWriter, writeRetryDelayMs } from '../../src/io/write-retry.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();

/** Strings shaped like Host values, plus raw noise. */
const hostLike = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.stringMatching(/^[A-Za-z0-9.-]{0,70}(:\d{0,6})?$/),
  fc.ipV4().map((ip) => `${ip}:${String(Math.floor(Math.random() * 70000))}`),
  fc.ipV6().map((ip) => `[${ip}]`),
  fc.ipV6().chain((ip) => fc.nat(99999).map((p) => `[${ip}]:${p}`)),
  fc.constantFrom('localhost', 'LOCALHOST.', 'localhost:9911', '[::1]', '[::1]:80', '127.0.0.1.', 'evil.example', '[]', '[::1', '::1', ':80', 'a:b', 'x y'),
);

describe('the DNS rebinding guard (Host)', () => {
  test('hostOf never throws; what it returns is lower case, without port or brackets, and valid', () => {
    fc.assert(
      fc.property(hostLike, (v) => {
        const h = hostOf(v);
        if (h === undefined) return;
        assert.equal(h, h.toLowerCase());
        assert.ok(h.length > 0 && h.length <= 260);
        assert.ok(isIP(h) === 6 || /^[a-z0-9._-]+$/.test(h), h);
        assert.ok(!h.endsWith('.') || isIP(h) !== 0, 'no trailing dot');
      }),
      { numRuns: 3000 },
    );
  });

  test('checkHost admits only IP literals, localhost and the allowed names', () => {
    fc.assert(
      fc.property(hostLike, fc.array(fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,2}$/), { maxLength: 3 }), (v, allowed) => {
        const verdict = checkHost({ host: v }, { allowedHosts: allowed });
        const h = hostOf(v);
        if (verdict.ok) {
          assert.ok(h !== undefined, `admitted a malformed Host ${JSON.stringify(v)}`);
          assert.ok(isIP(h) !== 0 || h === 'localhost' || allowed.includes(h), `admitted ${h}`);
        } else {
          assert.ok(verdict.reason.length > 0 && verdict.reason.length < 200);
          assert.doesNotMatch(verdict.reason, /[\r\n]/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('normaliseAllowedHost is idempotent and refuses ports and brackets', () => {
    fc.assert(
      fc.property(hostLike, (v) => {
        const n = normaliseAllowedHost(v);
        if (n === undefined) return;
        assert.equal(normaliseAllowedHost(n), n);
        assert.ok(!n.includes(':') && !n.includes('['));
        // An allowed name is admitted with any port.
        assert.equal(checkHost({ host: `${n}:9911` }, { allowedHosts: [n] }).ok, true);
      }),
      { numRuns: 2000 },
    );
  });

  test('any Origin or Sec-Fetch-* header is refused, whatever else the request says', () => {
    const name = fc.oneof(fc.constant('origin'), fc.stringMatching(/^sec-fetch-[a-z-]{0,12}$/));
    fc.assert(
      fc.property(
        name,
        fc.string({ maxLength: 100 }),
        fc.dictionary(fc.stringMatching(/^x-[a-z]{1,10}$/), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
        (n, value, others) => {
          const headers = { ...others, host: '127.0.0.1:9911', [n]: value };
          assert.equal(checkBrowser(headers).ok, false);
          assert.equal(guardCredentialRequest(headers).ok, false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('the clock correction from Date', () => {
  test('parseDateHeader never throws; HTTP dates round-trip to the second', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.date({ min: new Date(0), max: new Date(8.64e15) }).map((d) => d.toUTCString()),
        ),
        (v) => {
          const ms = parseDateHeader(v);
          if (ms !== undefined) assert.ok(Number.isFinite(ms));
        },
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), (d) => {
        assert.equal(parseDateHeader(d.toUTCString()), Math.floor(d.getTime() / 1000) * 1000);
      }),
    );
  });

  test('nextClockOffset corrects only a refusal outside the signing window, to whole seconds', () => {
    const span = 48 * 3600 * 1000;
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.option(fc.integer({ min: -span, max: span }), { nil: undefined }),
        fc.integer({ min: -span, max: span }),
        (status, delta, current) => {
          const localMs = Date.UTC(2026, 11, 7);
          const serverDateMs = delta === undefined ? undefined : localMs + delta;
          const r = nextClockOffset({ status, serverDateMs, localMs, currentOffsetMs: current });
          if (status !== 401 && status !== 403) assert.equal(r, undefined);
          if (serverDateMs === undefined) assert.equal(r, undefined);
          if (r === undefined) return;
          assert.equal(Math.abs(r % 1000), 0);
          assert.ok(r === 0 || Math.abs(r) > SIGNING_WINDOW_MS - 1000, `offset ${r}`);
          // The time it signs with next is within the window of the server's.
          assert.ok(Math.abs(localMs + r - (serverDateMs! + 499)) <= SIGNING_WINDOW_MS + 1000);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('throttle-aware and Retry-After backoff', () => {
  test('failureRetryDelayMs stays within [min, cap] for any input', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 10_000 }),
        fc.double({ min: -1, max: 2, noNaN: false }),
        fc.boolean(),
        fc.option(fc.double({ min: -1e12, max: 1e12 }), { nil: undefined }),
        fc.option(fc.integer({ min: -1e9, max: 1e9 }), { nil: undefined }),
        (n, r, throttled, retryAfterMs, left) => {
          const now = 1_000_000;
          const d = failureRetryDelayMs(n, r, {
            throttled,
            now,
            ...(left !== undefined ? { expiresAt: now + left } : {}),
            ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          });
          const cap = throttled ? THROTTLED_RETRY_CAP_MS : 60_000;
          assert.ok(Number.isInteger(d), String(d));
          assert.ok(d >= 500 && d <= cap, `${d} outside [500, ${cap}]`);
          // A throttled holder's cap may be as low as 60 s, the cap of other failures.
          if (retryAfterMs !== undefined && retryAfterMs > 0) assert.ok(d >= Math.min(Math.floor(retryAfterMs), 60_000), 'Retry-After is a floor');
        },
      ),
      { numRuns: 5000 },
    );
  });

  test('writeRetryDelayMs stays within [min(floor, ceiling), cap]', () => {
    fc.assert(
      fc.property(fc.integer({ min: -3, max: 10_000 }), fc.double({ noNaN: false }), (n, r) => {
        const d = writeRetryDelayMs(n, r, 1_000, 60_000);
        assert.ok(Number.isInteger(d) && d >= 100 && d <= 60_000, String(d));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the retrying writer', () => {
  test('whatever the interleaving of new content and failures, the newest content lands last and nothing older follows it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 90_000 }), failing: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (steps, rand) => {
          const vt = new VirtualTime(Date.UTC(2026, 0, 1));
          let failing = false;
          const landed: number[] = [];
          const w = new RetryingWriter({
            what: 'the file',
            path: '/f',
            dir: '/',
            timers: vt,
            random: { float: () => rand, bytes: (k) => Buffer.alloc(k) },
            logger: nullLogger,
          });
          for (const [i, s] of steps.entries()) {
            failing = s.failing;
            w.submit(async () => {
              if (failing) throw new SidecarError('FILE_UNWRITABLE', 'full', { details: { errno: 'ENOSPC' } });
              landed.push(i);
            });
            await vt.advanceAsync(s.gapMs);
          }
          failing = false;
          await vt.advanceAsync(10 * 60_000);
          await w.idle();
          assert.equal(landed.at(-1), steps.length - 1, `landed ${JSON.stringify(landed)}`);
          for (let k = 1; k < landed.length; k++) assert.ok(landed[k]! > landed[k - 1]!, `older content after newer: ${JSON.stringify(landed)}`);
          w.stop();
        },
      ),
      { numRuns: 300 },
    );
  });
});
