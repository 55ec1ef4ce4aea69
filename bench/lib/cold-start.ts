/**
 * Cold start: wall time from spawn() to the first answer that matters, polled every few
 * milliseconds from this process. Ports are chosen before the spawn so polling can start
 * at once (connection refused until the process listens).
 */
import { performance } from 'node:perf_hooks';
import { cliEnv } from '../../test/helpers/harness.js';
import type { RunningCli } from '../../test/helpers/harness.js';
import { CLI, freePorts, http, servePorts, sleep, spawnWatched } from './procs.js';

const POLL_MS = 5;

export interface SidecarColdStart {
  /** First IMDS token minted: the listeners are up. */
  readonly listeningMs: number;
  /** First 200 with credentials on the IMDS credentials path. */
  readonly credentialsMs: number;
  /** First 200 on /readyz. */
  readonly readyMs: number;
}

async function pollUntil(proc: RunningCli, deadline: number, attempt: () => Promise<boolean>): Promise<number> {
  let exited = false;
  void proc.exited().then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`cold start: the process exited; stderr:\n${proc.stderr().slice(-2000)}`);
    try {
      if (await attempt()) return performance.now();
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) throw new Error('cold start: no answer before the deadline');
    await sleep(POLL_MS);
  }
}

export async function sidecarColdStart(o: {
  env: Record<string, string>;
  cert: string;
  key: string;
  role: string;
  args: readonly string[];
}): Promise<SidecarColdStart> {
  const { imds, ops, args: portArgs } = await servePorts();
  const t0 = performance.now();
  const cli = spawnWatched(process.execPath, [CLI, 'serve', '--certificate', o.cert, '--private-key', o.key, ...portArgs, ...o.args], cliEnv(o.env));
  try {
    const deadline = t0 + 30_000;
    const base = `http://127.0.0.1:${imds}`;
    let token = '';
    const creds = (async () => {
      const listening = await pollUntil(cli, deadline, async () => {
        const r = await http(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' }, timeoutMs: 1000 });
        token = r.body.toString('utf8');
        return r.status === 200;
      });
      const served = await pollUntil(cli, deadline, async () => {
        const r = await http(`${base}/latest/meta-data/iam/security-credentials/${o.role}`, {
          headers: { 'x-aws-ec2-metadata-token': token },
          timeoutMs: 1000,
        });
        return r.status === 200;
      });
      return { listening, served };
    })();
    const ready = pollUntil(cli, deadline, async () => (await http(`http://127.0.0.1:${ops}/readyz`, { timeoutMs: 1000 })).status === 200);
    const [c, r] = await Promise.all([creds, ready]);
    return { listeningMs: c.listening - t0, credentialsMs: c.served - t0, readyMs: r - t0 };
  } finally {
    await cli.stop();
  }
}

/** `node -e` with the smallest http server, to the first 200: the runtime's own start-up cost. */
export async function bareColdStart(): Promise<number> {
  const [port] = (await freePorts(1)) as [number];
  const script = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
  const t0 = performance.now();
  const proc = spawnWatched(process.execPath, ['-e', script], cliEnv());
  try {
    const t = await pollUntil(proc, t0 + 30_000, async () => (await http(`http://127.0.0.1:${port}/`, { timeoutMs: 1000 })).status === 200);
    return t - t0;
  } finally {
    await proc.stop();
  }
}
