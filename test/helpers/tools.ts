/**
 * Outside tools and clients the tests drive: SoftHSM2, swtpm, the tpm2 tools, openssl,
 * libfaketime, systemd-analyze, Go, botocore and the AWS CLI (pyenv and Debian), Node 24.
 * .ci/run installs every one of them, so under CI=true a missing one FAILS the test that
 * needs it: a broken install cannot drop real-client coverage by turning tests into skips.
 * Outside CI the test is skipped with the reason (and the package that provides it).
 */
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const IN_CI = process.env.CI === 'true';

export function hasTool(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fails (everywhere) when `cmd` is missing: for tools a whole suite cannot run without. */
export function requireTool(cmd: string, debianPackage: string): void {
  if (!hasTool(cmd)) throw new Error(`${cmd} is not installed: apt-get install ${debianPackage} (.ci/run installs it)`);
}

function ciFailure(reason: string): Error {
  return new Error(`${reason}; under CI=true a missing tool fails the test instead of skipping it (.ci/run installs it)`);
}

/**
 * For `describe(name, { skip: skipOutsideCi(reason) })`: false when nothing is missing; the
 * reason outside CI; under CI it throws, so the test file fails with the reason.
 */
export function skipOutsideCi(reason: string | undefined | false): string | false {
  if (reason === undefined || reason === false) return false;
  if (IN_CI) throw ciFailure(reason);
  return reason;
}

/** Inside a test: skips it with `reason`, or under CI fails it. Return right after calling. */
export function unavailable(t: TestContext, reason: string): void {
  if (IN_CI) throw ciFailure(reason);
  t.skip(reason);
}
