/**
 * Everything a command touches of the outside world, passed in so commands can be run
 * in-process by tests and by `exec`/`demo`, and so no library module reads process.*.
 */
import type { Readable, Writable } from 'node:stream';
import type { Clock, Random } from '../core/clock.js';
import type { Timers } from '../core/timers.js';

export type Signal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

export interface CliIo {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly homedir: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly timers: Timers;
  /** Subscribes to a signal; returns the unsubscribe function. */
  onSignal(signal: Signal, handler: () => void): () => void;
}

/** Writes and waits until the stream has taken the bytes (stdout may be a pipe). */
export function writeOut(stream: Writable, text: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
