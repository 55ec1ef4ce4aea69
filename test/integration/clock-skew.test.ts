/**
 * A host whose clock is off by more than SigV4's 5-minute window: the real CLI, its clock
 * shifted with libfaketime, against the emulator on the true clock. The emulator refuses the
 * first request as the service does (403, with a Date header), the sidecar measures the skew
 * from Date, signs again, warns once and exports the skew as a metric.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { cleanup, cliEnv, runCli, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import { assertServable, imdsCredentials, imdsToken, logLines, metricValue, metricsText, startServe, waitUntil } from '../helpers/serve-fixture.js';
import { skipOutsideCi } from '../helpers/tools.js';

const FAKETIME_LIB = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find((p) => existsSync(p));
const MISSING = skipOutsideCi(FAKETIME_LIB === undefined ? 'libfaketime is not installed (Debian package faketime; .ci/run installs it)' : undefined);

/** The environment that moves the process's wall clock by `offset` (libfaketime syntax, e.g. "-10m"); timers keep the real monotonic clock. */
function shifted(offset: string): Record<string, string> {
  return { LD_PRELOAD: FAKETIME_LIB!, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1' };
}

let pki: PkiFiles;
let home: string;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;

describe('clock skew correction from the response Date', { skip: MISSING }, () => {
  before(async () => {
    pki = await writePki();
    home = tempDir('ras-skew-home-');
    emu = await startTestEmulator(pki);
  });
  after(async () => {
    await emu?.stop();
    cleanup(home, pki?.dir);
  });

  for (const [offset, skewSeconds, words] of [
    ['-10m', 600, /(10 min|9 min 59 s) behind/],
    ['+2h', -7200, /(2 h|1 h 59 min 59 s|2 h 1 s) ahead of/],
  ] as const) {
    test(`credential-process with the host clock ${offset}: credentials, one warning naming the skew, expiry in the host's terms`, async () => {
      const r = await runCli(['credential-process', '--no-cache', '--log-level', 'warn', '--log-format', 'json', ...sessionArgs(pki.ec256)], {
        env: cliEnv({ ...emu.env, HOME: home, ...shifted(offset) }),
      });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { AccessKeyId: string; Expiration: string };
      assert.match(out.AccessKeyId, /^ASIA/);
      const warns = logLines(r.stderr).filter((l) => typeof l.msg === 'string' && /host clock/.test(l.msg));
      assert.equal(warns.length, 1, r.stderr);
      assert.match(warns[0]!.msg as string, words);
      assert.ok(Math.abs((warns[0]!.clockSkewSeconds as number) - skewSeconds) <= 1, String(warns[0]!.clockSkewSeconds));
      // The emulator issues one hour on its (true) clock; the host sees the expiry on its own.
      const hostNow = Date.now() - skewSeconds * 1000;
      const left = Date.parse(out.Expiration) - hostNow;
      assert.ok(Math.abs(left - 3_600_000) < 120_000, `expires ${left} ms after the host's now`);
    });
  }

  test('with a correct clock nothing is corrected and nothing is said', async () => {
    const r = await runCli(['credential-process', '--no-cache', '--log-level', 'debug', '--log-format', 'json', ...sessionArgs(pki.ec256)], {
      env: cliEnv({ ...emu.env, HOME: home }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /host clock/);
  });

  test('a wrong role with a skewed clock: corrected once, then the real refusal is the error', async () => {
    const r = await runCli(
      ['credential-process', '--no-cache', '--log-format', 'json', ...sessionArgs(pki.ec256), '--role-arn', 'arn:aws:iam::123456789012:role/not-in-profile'],
      {
        env: cliEnv({ ...emu.env, HOME: home, ...shifted('-10m') }),
      },
    );
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.doesNotMatch(last, /[Ss]ignature expired/, 'the error is the role refusal, not the clock');
  });

  test('serve with the host clock 10 minutes slow: ready, credentials served, skew exported as a metric, warned once', async () => {
    const serve = await startServe(['--log-level', 'info', ...sessionArgs(pki.ec256)], { env: { ...emu.env, ...shifted('-10m') } });
    try {
      const token = await imdsToken(serve.imds!);
      const creds = await imdsCredentials(serve.imds!, token);
      assertServable(creds, 'IMDS with a slow host clock', Date.now() - 600_000);
      const text = await metricsText(serve.ops!);
      assert.ok(Math.abs(metricValue(text, 'rolesanywhere_sidecar_clock_skew_seconds') - 600) <= 1, text);
      await waitUntil(() => logLines(serve.cli.stderr()).some((l) => /host clock/.test(String(l.msg))), 'the skew warning');
      assert.equal(logLines(serve.cli.stderr()).filter((l) => /host clock/.test(String(l.msg))).length, 1);
    } finally {
      await serve.cli.stop();
    }
  });
});
