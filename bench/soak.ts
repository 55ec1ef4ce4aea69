/**
 * The fault soak (see bench/lib/soak.ts): prints the counts and exits 1 if any response was
 * bad, the CreateSession bound was exceeded or the rotated certificate was not used.
 *
 *   node dist/bench/soak.js [--minutes 5] [--json bench/soak-results.json]
 */
// @peculiar/x509 (test PKIs, the emulator) needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSoakReport, fullSchedule, runSoak } from './lib/soak.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, json: { type: 'string' } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes < 0.5 || minutes > 24 * 60) {
  process.stderr.write('soak: --minutes must be a number from 0.5 to 1440\n');
  process.exit(2);
}
const report = await runSoak({ schedule: fullSchedule(minutes), log: (line) => process.stderr.write(`[soak] ${line}\n`) });
process.stdout.write(formatSoakReport(report));
if (values.json !== undefined) writeFileSync(resolve(values.json), `${JSON.stringify(report, null, 2)}\n`);
process.exitCode = report.ok ? 0 : 1;
