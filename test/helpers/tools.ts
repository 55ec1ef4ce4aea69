/**
 * Outside tools the tests drive (SoftHSM2, OpenSC, swtpm, tpm2-tools, the tpm2 OpenSSL
 * provider). A missing one fails the test with the Debian package to install: .ci/run
 * installs them all, so a test never passes by not running.
 */
import { execFileSync } from 'node:child_process';

export function hasTool(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function requireTool(cmd: string, debianPackage: string): void {
  if (!hasTool(cmd)) throw new Error(`${cmd} is not installed: apt-get install ${debianPackage} (.ci/run installs it)`);
}
