/**
 * The fixture every benchmark shares: a temp PKI, the emulator as its own process (admin API
 * on, so CreateSession counts can be read), and sidecars started against it with sessions
 * long enough that no scheduled refresh falls inside a benchmark.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, writePki, type PkiFiles } from '../../test/helpers/harness.js';
import type { CannedResponse } from './bare-server.js';
import { http, imdsToken, startEmulatorProcess, startSidecarProcess, type EmulatorProcess, type HttpResult, type SidecarProcess } from './procs.js';

/**
 * 12 h sessions: the refresher's first scheduled refresh is then at least 5.75 h away
 * (half of the window above the 30 min minimum remaining), far beyond any benchmark.
 */
export const LONG_SESSION_SECONDS = 43_200;

export interface BenchFixture {
  readonly pki: PkiFiles;
  readonly emulator: EmulatorProcess;
  startSidecar(o?: { node?: string; nodeArgs?: readonly string[]; args?: readonly string[] }): Promise<SidecarProcess>;
  close(): Promise<void>;
}

export async function benchFixture(): Promise<BenchFixture> {
  const pki = await writePki();
  const emulator = await startEmulatorProcess(pki, ['--max-duration', String(LONG_SESSION_SECONDS)]);
  const sidecars = new Set<SidecarProcess>();
  return {
    pki,
    emulator,
    startSidecar: async (o = {}) => {
      const s = await startSidecarProcess({
        env: emulator.env,
        cert: pki.ec256.cert,
        key: pki.ec256.key,
        // Info level: the start-up line names the ops listener; nothing on the request path logs at info.
        args: ['--session-duration', String(LONG_SESSION_SECONDS), ...(o.args ?? [])],
        ...(o.node !== undefined ? { node: o.node } : {}),
        ...(o.nodeArgs !== undefined ? { nodeArgs: o.nodeArgs } : {}),
      });
      sidecars.add(s);
      const stop = s.stop;
      return {
        ...s,
        stop: async () => {
          sidecars.delete(s);
          await stop();
        },
      };
    },
    close: async () => {
      await Promise.all([...sidecars].map((s) => s.stop()));
      await emulator.stop();
      cleanup(pki.dir);
    },
  };
}

/** Polls until the sidecar serves credentials on both endpoints; returns the IMDS token and both responses. */
export async function waitForCredentials(
  s: SidecarProcess,
  timeoutMs = 30_000,
): Promise<{ token: string; role: string; imds: HttpResult; container: HttpResult }> {
  const deadline = Date.now() + timeoutMs;
  const token = await imdsToken(s.imdsUrl);
  const roleList = await http(new URL('latest/meta-data/iam/security-credentials/', s.imdsUrl), { headers: { 'x-aws-ec2-metadata-token': token } });
  const role = roleList.body.toString('utf8').trim();
  for (;;) {
    const imds = await http(imdsCredentialsUrl(s, role), { headers: { 'x-aws-ec2-metadata-token': token } });
    const container = await http(s.containerUrl, { headers: { authorization: s.containerToken } });
    if (imds.status === 200 && container.status === 200) return { token, role, imds, container };
    if (Date.now() > deadline) throw new Error(`no credentials within ${timeoutMs} ms (IMDS ${imds.status}, container ${container.status})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function imdsCredentialsUrl(s: SidecarProcess, role: string): string {
  return new URL(`latest/meta-data/iam/security-credentials/${role}`, s.imdsUrl).href;
}

const HOP_BY_HOP = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/** Writes the canned response (status, end-to-end headers, body) the bare server replays. */
export function writeCanned(dir: string, name: string, r: HttpResult): string {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (!HOP_BY_HOP.has(k) && typeof v === 'string') headers[k] = v;
  const canned: CannedResponse = { status: r.status, headers, bodyBase64: r.body.toString('base64') };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(canned), { mode: 0o600 });
  return file;
}
