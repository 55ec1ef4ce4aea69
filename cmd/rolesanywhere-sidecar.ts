#!/usr/bin/env node
import { homedir } from 'node:os';
import { systemClock, systemRandom } from '../src/core/clock.js';
import { systemTimers } from '../src/core/timers.js';
import { run } from '../src/cli/main.js';

// No top-level await: the same file is the entry of the CommonJS bundle behind the single
// executable (packaging/bundle.ts), and CommonJS has none.
void run({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  // A getter: process.stdin builds a stream (a tty, pipe or file reader) when first read,
  // which only commands given `-` for an input need.
  get stdin() {
    return process.stdin;
  },
  homedir: homedir(),
  clock: systemClock,
  random: systemRandom,
  timers: systemTimers,
  onSignal: (signal, handler) => {
    process.on(signal, handler);
    return () => process.off(signal, handler);
  },
}).then((code) => {
  process.exitCode = code;
});
