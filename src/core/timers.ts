/**
 * Timer scheduling, injected like the Clock so the refresher, the identity watcher and a
 * fleet simulation run on virtual time in tests instead of sleeping.
 */
import type { Clock } from './clock.js';

declare const timerHandleBrand: unique symbol;

/** Opaque handle returned by `Timers.setTimeout`; only its own `Timers` can clear it. */
export interface TimerHandle {
  readonly [timerHandleBrand]: true;
}

export interface Timers {
  /** Runs `fn` once after `ms` milliseconds (< 1 or NaN counts as 1, as in Node). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; clearing a fired or already cleared timer is a no-op. */
  clearTimeout(h: TimerHandle): void;
}

// Node fires any delay above 2^31-1 ms (~24.8 days) after 1 ms instead; longer waits are
// split into chunks so a far-future refresh (or a clock far in the future) never spins.
const MAX_NODE_DELAY_MS = 2 ** 31 - 1;

export interface SystemTimersOptions {
  /**
   * Whether the timers are unref'd (default false, Node's own behaviour). Decided for ref'd:
   * `update` runs a refresher with no listening server and waits only for a signal, and
   * signal handlers do not keep Node alive, so with unref'd timers the process would exit
   * (status 13, unsettled await) as soon as the first CreateSession finished. The price is
   * that an owner must stop() its refresher and watcher to let the process end, which the
   * graceful shutdown does anyway. Pass `unref: true` only for helpers that must never hold
   * a process open on their own.
   */
  unref?: boolean;
  /** Longest single Node timer; lower only in tests of the chunking itself. */
  maxChunkMs?: number;
}

interface SystemTimerHandle {
  node: NodeJS.Timeout | undefined;
}

/** Real timers backed by Node's `setTimeout`, with long delays chunked. */
export function createSystemTimers(options: SystemTimersOptions = {}): Timers {
  const unref = options.unref ?? false;
  const chunk = Math.max(1, Math.min(options.maxChunkMs ?? MAX_NODE_DELAY_MS, MAX_NODE_DELAY_MS));
  const arm = (h: SystemTimerHandle, fn: () => void, dueAt: number, remaining: number): void => {
    const step = Math.min(remaining, chunk);
    const t = setTimeout(() => {
      const left = dueAt - Date.now();
      // Chunks only exist for delays longer than one Node timer; the last chunk fires fn.
      if (remaining > chunk && left > 0) arm(h, fn, dueAt, left);
      else {
        h.node = undefined;
        fn();
      }
    }, step);
    if (unref) t.unref();
    h.node = t;
  };
  return {
    setTimeout(fn, ms) {
      const delay = Number.isFinite(ms) && ms >= 1 ? ms : 1;
      const h: SystemTimerHandle = { node: undefined };
      arm(h, fn, Date.now() + delay, delay);
      return h as unknown as TimerHandle;
    },
    clearTimeout(handle) {
      const h = handle as unknown as SystemTimerHandle;
      if (h.node !== undefined) clearTimeout(h.node);
      h.node = undefined;
    },
  };
}

/** Real, ref'd timers: the library default (see SystemTimersOptions.unref for why). */
export const systemTimers: Timers = createSystemTimers();

/** A promise that resolves after `ms` on `timers` (virtual or real). */
export function sleepOn(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timers.setTimeout(resolve, ms);
  });
}

interface VirtualTimer {
  at: number;
  /** Insertion order: timers due at the same instant fire first-scheduled first, as in Node. */
  seq: number;
  fn: (() => void) | undefined;
}

/**
 * A manual clock and a timer queue in one (a binary min-heap on (due time, insertion
 * order), with lazy deletion), for tests and simulations of many sidecars.
 *
 * `advance`/`advanceTo` fire due timers synchronously in time order, including timers that
 * fired callbacks schedule, and move `now()` to each timer's due time as it fires. They do
 * not run promise continuations; the async variants (`advanceAsync`, `runUntilIdle`) let
 * the microtask queue drain (one macrotask turn) before and after every timer, so async work
 * started by a timer completes at the virtual instant it was started, as with real timers.
 */
export class VirtualTime implements Clock, Timers {
  private t: number;
  private heap: VirtualTimer[] = [];
  private seq = 0;
  private live = 0;
  private fired = 0;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms >= 1 ? ms : 1;
    const timer: VirtualTimer = { at: this.t + delay, seq: this.seq++, fn };
    this.push(timer);
    this.live++;
    return timer as unknown as TimerHandle;
  }

  clearTimeout(h: TimerHandle): void {
    const timer = h as unknown as VirtualTimer;
    if (timer.fn === undefined) return;
    timer.fn = undefined;
    this.live--;
    // Lazy deletion keeps clearTimeout O(1); rebuild once dead entries dominate so a
    // simulation that reschedules constantly does not grow the heap without bound.
    if (this.heap.length > 1024 && this.live * 2 < this.heap.length) this.compact();
  }

  /** Timers scheduled and not yet fired or cleared. */
  pending(): number {
    return this.live;
  }

  /** Total timers fired so far (for simulations' statistics and tight-loop checks). */
  firedCount(): number {
    return this.fired;
  }

  /** Due time of the next live timer, if any. */
  nextAt(): number | undefined {
    this.dropDead();
    return this.heap[0]?.at;
  }

  /** Moves time forward by `ms`, firing due timers synchronously. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  /** Moves time to `target` (never backwards), firing due timers synchronously. */
  advanceTo(target: number): void {
    for (;;) {
      const next = this.popDue(target);
      if (next === undefined) break;
      this.fire(next);
    }
    if (target > this.t) this.t = target;
  }

  /** Like `advance`, draining promise continuations before and after each timer. */
  async advanceAsync(ms: number): Promise<void> {
    await this.advanceToAsync(this.t + ms);
  }

  /** Like `advanceTo`, draining promise continuations before and after each timer. */
  async advanceToAsync(target: number): Promise<void> {
    await settle();
    for (;;) {
      const next = this.popDue(target);
      if (next === undefined) break;
      this.fire(next);
      await settle();
    }
    if (target > this.t) this.t = target;
    await settle();
  }

  /**
   * Settles the current instant without moving time: drains promise continuations and fires
   * timers already due, until neither remains. Timers in the future are left alone (a
   * refresher always has one pending, so "until no timers remain" would never end).
   */
  async runUntilIdle(): Promise<void> {
    await this.advanceToAsync(this.t);
  }

  private fire(timer: VirtualTimer): void {
    const fn = timer.fn;
    if (fn === undefined) return;
    timer.fn = undefined;
    this.live--;
    this.fired++;
    if (timer.at > this.t) this.t = timer.at;
    fn();
  }

  /** Removes and returns the earliest live timer due at or before `target`. */
  private popDue(target: number): VirtualTimer | undefined {
    this.dropDead();
    const top = this.heap[0];
    if (top === undefined || top.at > target) return undefined;
    this.popTop();
    return top;
  }

  private dropDead(): void {
    while (this.heap.length > 0 && this.heap[0]!.fn === undefined) this.popTop();
  }

  private compact(): void {
    const liveTimers = this.heap.filter((x) => x.fn !== undefined);
    this.heap = liveTimers;
    for (let i = (liveTimers.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(timer: VirtualTimer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private popTop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    this.siftDown(0);
  }

  private siftDown(start: number): void {
    const h = this.heap;
    const n = h.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && before(h[l]!, h[m]!)) m = l;
      if (r < n && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** One macrotask turn: every queued promise continuation (at any depth) runs before it. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
