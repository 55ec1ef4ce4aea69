/**
 * Property tests of the one outside value the packaging writes into a Debian control file:
 * package.json's version. Any string either is refused or becomes a Debian version
 * (deb-version(7) characters, no line break that could add a control field), and semver's
 * pre-release ordering survives (`1.0.0-rc.1` sorts before `1.0.0`, as `1.0.0~rc.1` does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { debVersion } from '../../packaging/deb.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();

const DEB_VERSION = /^[0-9][A-Za-z0-9.+~]*$/;

test('debVersion: any string is refused or becomes a one-line Debian version', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\d{1,3}\.\d{1,3}\.\d{1,3}(-[0-9A-Za-z.-]{1,12})?(\+[0-9A-Za-z.-]{1,8})?$/)), (v) => {
      let out: string;
      try {
        out = debVersion(v);
      } catch (e) {
        assert.match((e as Error).message, /^not a semver version/);
        return;
      }
      assert.match(out, DEB_VERSION);
    }),
    { numRuns: 2000 },
  );
});

test('debVersion keeps the pre-release before its release (checked with dpkg itself)', (t) => {
  if (spawnSync('dpkg', ['--version']).status !== 0) return t.skip('no dpkg');
  fc.assert(
    fc.property(fc.stringMatching(/^\d{1,2}\.\d{1,2}\.\d{1,2}$/), fc.stringMatching(/^[a-z][a-z0-9]{0,5}(\.[0-9]{1,2})?$/), (release, pre) => {
      const r = spawnSync('dpkg', ['--compare-versions', debVersion(`${release}-${pre}`), 'lt', debVersion(release)]);
      assert.equal(r.status, 0, `${release}-${pre} must sort before ${release}`);
    }),
    { numRuns: 50 },
  );
});
