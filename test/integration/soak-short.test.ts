/**
 * The fault soak's short schedule (bench/lib/soak.ts, about 45 s): the real `serve` process
 * against the emulator with 15 s credentials, clients polling IMDS (classic and extended)
 * and the container endpoint while CreateSession is failed with 5xx, resets, latency,
 * throttling and an outage, and the certificate files are rotated. No response may carry
 * expired or empty credentials, no "no credentials" answer may come while valid ones
 * existed, CreateSession attempts stay within the retry policy's bound, and the rotated
 * certificate is the one used afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSoakReport, runSoak, shortSchedule } from '../../bench/lib/soak.js';

test('short fault soak: zero bad responses, bounded CreateSession, rotated certificate used', { timeout: 120_000 }, async (t) => {
  const report = await runSoak({ schedule: shortSchedule() });
  for (const line of formatSoakReport(report).trimEnd().split('\n')) t.diagnostic(line);
  assert.deepEqual(report.bad, [], 'bad responses');
  assert.deepEqual(report.badCounts, {});
  // The run really exercised both sides of the judgement: credentials were served on every
  // endpoint, and the outage made them lapse at least once.
  for (const endpoint of ['imds', 'imds-extended', 'container']) {
    assert.ok((report.byEndpoint[endpoint]?.['200'] ?? 0) > 50, `${endpoint} served credentials`);
  }
  assert.ok(report.distinctAccessKeys >= 3, 'credentials were refreshed several times');
  assert.equal(report.unknownAccessKeys, 0);
  assert.ok(report.minRemainingMs > 0, 'no credentials served at or past expiry');
  assert.ok(
    report.createSession.attempts <= report.createSession.bound,
    `CreateSession attempts ${report.createSession.attempts} <= ${report.createSession.bound}`,
  );
  assert.ok(report.createSession.faulted > 0, 'the faults reached CreateSession');
  assert.ok(report.rotation !== null && report.rotation.ok, 'the rotated certificate was used after the rotation');
  assert.equal(report.healthz.failed, 0);
  assert.ok(report.tokenRefreshes > 0, 'IMDS token expiry was exercised');
  assert.equal(report.sidecarExit.code, 0);
});
