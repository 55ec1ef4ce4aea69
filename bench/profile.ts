/**
 * Where the hot path spends its time: runs the real `serve` process under `node --cpu-prof`,
 * loads one endpoint with autocannon (from this process), stops the sidecar so V8 writes
 * the profile, and prints the functions with the most self time.
 *
 *   node dist/bench/profile.js [--endpoint imds|container|bare] [--seconds 10] [--connections 64] [--top 30] [--save per-request.json]
 *
 * `--endpoint bare` profiles the bare node:http ceiling replaying the IMDS response, to
 * tell the runtime's own per-request cost from the sidecar's.
 */
// @peculiar/x509 (test PKIs, the emulator) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './lib/load.js';
import { spawnWatched, REPO_ROOT } from './lib/procs.js';
import { cliEnv } from '../test/helpers/harness.js';
import { benchFixture, imdsCredentialsUrl, waitForCredentials, writeCanned } from './lib/setup.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name + file:line), microseconds, biggest first. */
export function selfTimes(profile: CpuProfile): Array<{ fn: string; us: number }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const f = node.callFrame;
    const where = f.url === '' ? '' : ` ${f.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return [...totals].map(([fn, us]) => ({ fn, us })).sort((a, b) => b.us - a.us);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoint: { type: 'string', default: 'imds' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      top: { type: 'string', default: '30' },
      /** Also write the per-request self times as JSON, to diff two runs. */
      save: { type: 'string' },
    },
  });
  const fixture = await benchFixture();
  try {
    const dir = join(fixture.pki.dir, 'cpu-prof');
    mkdirSync(dir);
    const bare = values.endpoint === 'bare';
    const sidecar = await fixture.startSidecar(bare ? {} : { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
    const { token, role, imds } = await waitForCredentials(sidecar);
    let target: { url: string; headers: Record<string, string> };
    let stop: () => Promise<void>;
    if (bare) {
      const canned = writeCanned(fixture.pki.dir, 'imds', imds);
      const proc = spawnWatched(
        process.execPath,
        ['--cpu-prof', '--cpu-prof-dir', dir, join(REPO_ROOT, 'dist', 'bench', 'lib', 'bare-server.js'), canned],
        cliEnv(),
      );
      const [line] = await proc.waitForLines(1);
      const port = (JSON.parse(line ?? '{}') as { port: number }).port;
      target = { url: `http://127.0.0.1:${port}${new URL(imdsCredentialsUrl(sidecar, role)).pathname}`, headers: { 'x-aws-ec2-metadata-token': token } };
      stop = async () => void (await proc.stop());
    } else {
      target =
        values.endpoint === 'container'
          ? { url: sidecar.containerUrl, headers: { authorization: sidecar.containerToken } }
          : { url: imdsCredentialsUrl(sidecar, role), headers: { 'x-aws-ec2-metadata-token': token } };
      stop = () => sidecar.stop();
    }
    // Warm the JIT first so the profile shows the steady state, not compilation.
    const warm = await runLoad({ ...target, connections: Number(values.connections), durationS: 2 });
    const r = await runLoad({ ...target, connections: Number(values.connections), durationS: Number(values.seconds) });
    const served = warm.requests + r.requests;
    await stop();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('the sidecar wrote no .cpuprofile');
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const rows = selfTimes(profile);
    const total = rows.reduce((a, b) => a + b.us, 0);
    process.stdout.write(`${values.endpoint}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, non-2xx ${r.non2xx}\n`);
    const busy = total - rows.filter((x) => x.fn === '(idle)').reduce((a, b) => a + b.us, 0);
    const groups = new Map<string, number>();
    for (const row of rows) {
      const g =
        row.fn === '(idle)'
          ? '(idle)'
          : /dist\/src\//.test(row.fn)
            ? 'sidecar code'
            : /node_modules\//.test(row.fn)
              ? 'dependencies'
              : /node:/.test(row.fn)
                ? 'node core JS'
                : `other: ${row.fn.split(' ')[0]}`;
      groups.set(g, (groups.get(g) ?? 0) + row.us);
    }
    process.stdout.write(`main thread busy ${(busy / served).toFixed(1)} µs per request (${served} requests)\n`);
    for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 8)) process.stdout.write(`  ${g}: ${(us / served).toFixed(2)} µs/req\n`);
    if (values.save !== undefined) writeFileSync(values.save, JSON.stringify(Object.fromEntries(rows.map((x) => [x.fn, x.us / served]))));
    process.stdout.write(`self time (of ${(total / 1e6).toFixed(1)} s sampled):\n`);
    for (const row of rows.slice(0, Number(values.top))) {
      process.stdout.write(`${((100 * row.us) / total).toFixed(1).padStart(5)} %  ${row.fn}\n`);
    }
  } finally {
    await fixture.close();
  }
}

await main();
