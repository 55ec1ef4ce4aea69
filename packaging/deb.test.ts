import { test } from 'node:test';
import assert from 'node:assert/strict';
import { debArch, debControl, debVersion, parseShlibdeps } from './deb.js';

test('debVersion: releases as is, pre-releases sort before their release with ~, build metadata dropped', () => {
  assert.equal(debVersion('0.1.0'), '0.1.0');
  assert.equal(debVersion('1.2.3-rc.1'), '1.2.3~rc.1');
  assert.equal(debVersion('1.2.3-rc.1+build.5'), '1.2.3~rc.1');
  // No hyphen left for dpkg to take as a revision separator (a fuzz finding).
  assert.equal(debVersion('0.0.0--a'), '0.0.0~.a');
  assert.throws(() => debVersion('1.2'), /not a semver/);
  assert.throws(() => debVersion('1.2.3\nDepends: evil'), /not a semver/);
});

test('debArch maps node architectures to Debian names and refuses unknown ones', () => {
  assert.equal(debArch('x64'), 'amd64');
  assert.equal(debArch('arm64'), 'arm64');
  assert.throws(() => debArch('ia32'), /no Debian architecture/);
});

test('debControl: the fields dpkg needs, a folded description, a trailing newline', () => {
  const c = debControl({ version: '0.1.0', arch: 'amd64', depends: 'libc6 (>= 2.34)', installedSizeKiB: 98_000, description: 'short' });
  assert.match(
    c,
    /^Package: rolesanywhere-sidecar\nVersion: 0\.1\.0\nArchitecture: amd64\nMaintainer: .+ <.+>\nInstalled-Size: 98000\nDepends: libc6 \(>= 2\.34\)\n/,
  );
  assert.match(c, /\nDescription: short\n( \S.*\n)+$/);
  assert.doesNotMatch(c, /\n\n/);
});

test('parseShlibdeps reads the substitution variable and refuses output without one', () => {
  assert.equal(parseShlibdeps('shlibs:Depends=libc6 (>= 2.34), libgcc-s1 (>= 3.4)\n'), 'libc6 (>= 2.34), libgcc-s1 (>= 3.4)');
  assert.throws(() => parseShlibdeps('warning only\n'), /no shlibs:Depends/);
});
