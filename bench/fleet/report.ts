/** The fleet simulation's markdown table (pure formatting, shared by the CLI and the docs). */
import type { FleetResult } from './fleet.js';

export interface ScenarioReport {
  result: FleetResult;
  /** Caveats printed under the table (overload, reduced hours). */
  notes: string[];
  /** The refresh policy, when several are compared side by side. */
  policy?: string;
}

const HEADER = [
  'Sidecars',
  'Session',
  'Hours',
  'Peak calls/s',
  'Mean calls/s',
  'Steady calls/s',
  'Total calls',
  'Throttled',
  'All had credentials after',
  'Lapsed sidecars',
  'Longest lapse',
  'CPU s',
];

export function formatTable(reports: readonly ScenarioReport[]): string {
  const withPolicy = reports.some((x) => x.policy !== undefined);
  const rows = reports.map(({ result: r, policy }, i) => {
    const mark = reports[i]!.notes.length > 0 ? ` [${i + 1}]` : '';
    return [
      ...(withPolicy ? [policy ?? ''] : []),
      `${int(r.sidecars)}${mark}`,
      `${int(r.sessionSeconds)} s`,
      String(r.hours),
      int(r.peakCallsPerSecond),
      rate(r.meanCallsPerSecond),
      r.steadyCallsPerSecond === undefined ? 'n/a' : rate(r.steadyCallsPerSecond),
      int(r.totalCalls),
      int(r.throttledCalls),
      r.allAcquiredAfterSeconds === undefined ? `never (${int(r.acquiredSidecars)} by ${r.hours} h)` : duration(r.allAcquiredAfterSeconds),
      int(r.lapsedSidecars),
      r.lapsedSidecars === 0 ? '0' : `${r.lapsesOpenAtEnd > 0 ? '>= ' : ''}${duration(r.longestLapseSeconds)}`,
      r.cpuSeconds.toFixed(1),
    ];
  });
  const header = withPolicy ? ['Policy', ...HEADER] : HEADER;
  const align = header.map((_, i) => (i === 0 || (withPolicy && i === 1) ? '---' : '---:'));
  const lines = [row(header), row(align), ...rows.map(row)];
  const notes = reports.flatMap((r, i) => r.notes.map((n) => `[${i + 1}] ${n}`));
  return [...lines, ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}

/** `2 h 47 min`, `3 min 12 s`, `41 s`, `0.3 s`. */
export function duration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
}

/** Calls a second: small rates keep two significant digits (10 sidecars on 12 h sessions make 0.00045 calls/s). */
function rate(x: number): string {
  if (x >= 10) return x.toFixed(0);
  if (x >= 1) return x.toFixed(1);
  return x > 0 ? x.toPrecision(2) : '0';
}

function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}
