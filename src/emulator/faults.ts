/**
 * Scripted failures for CreateSession, so clients can be tested against what the real
 * service and the network do: throttling with Retry-After, 5xx, malformed bodies, dropped
 * connections, latency, outages. A queue of one-shot faults is consumed in order by the next
 * CreateSession calls; outage and throttle are persistent modes. STS is never faulted, so a
 * test can show cached credentials keep working while Roles Anywhere is down.
 */
import { SidecarError, oneLine } from '../core/errors.js';

export type ScriptedFault =
  /** Answer with this status instead of processing the request. */
  | {
      readonly status: number;
      readonly retryAfterSeconds?: number;
      /** Raw body (e.g. malformed JSON or `{"credentialSet":[]}`); default `{"message": ...}`. */
      readonly body?: string;
      /** X-Amzn-ErrorType; by default derived from the status (429 ThrottlingException...). */
      readonly errorType?: string;
      readonly delayMs?: number;
    }
  /** Destroy the connection without answering. */
  | { readonly drop: true; readonly delayMs?: number }
  /** Process the request normally after a delay. */
  | { readonly delayMs: number };

export interface FaultPlan {
  readonly script?: readonly ScriptedFault[];
  /** Answer 503 ServiceUnavailableException to every CreateSession. */
  readonly outage?: boolean;
  /** Allow at most this many CreateSession calls a second (token bucket); the rest get 429. */
  readonly throttlePerSecond?: number;
}

export interface FaultState {
  readonly pending: number;
  readonly outage: boolean;
  readonly throttlePerSecond: number | null;
}

/** Runtime control of the fault plan (also reachable over the admin API). */
export interface FaultController {
  enqueue(...faults: ScriptedFault[]): void;
  setOutage(on: boolean): void;
  /** `undefined` switches throttling off. */
  setThrottle(ratePerSecond: number | undefined): void;
  /** Drops queued faults and switches outage and throttling off. */
  clear(): void;
  state(): FaultState;
}

export type FaultDecision =
  | { readonly action: 'pass'; readonly delayMs: number }
  | { readonly action: 'drop'; readonly delayMs: number }
  | {
      readonly action: 'respond';
      readonly delayMs: number;
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: string;
    };

/** Longest scripted delay: enough to trip any client timeout, short enough not to hang a test run. */
export const MAX_FAULT_DELAY_MS = 120_000;
export const MAX_FAULT_BODY_BYTES = 64 * 1024;
/** Queued faults beyond this are refused: a script is a handful of steps, not a load test. */
export const MAX_QUEUED_FAULTS = 10_000;

const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

function scriptedResponse(f: Extract<ScriptedFault, { status: number }>): FaultDecision {
  const errorType = f.errorType ?? DEFAULT_ERROR_TYPES[f.status];
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (errorType !== undefined) headers['x-amzn-errortype'] = errorType;
  if (f.retryAfterSeconds !== undefined) headers['retry-after'] = String(f.retryAfterSeconds);
  const body = f.body ?? JSON.stringify({ message: `emulated fault: HTTP ${f.status}${errorType !== undefined ? ` ${errorType}` : ''}` });
  return { action: 'respond', delayMs: f.delayMs ?? 0, status: f.status, headers, body };
}

/** The controller plus the decision the server asks for on each CreateSession. */
export class Faults implements FaultController {
  private readonly queue: ScriptedFault[] = [];
  private outage = false;
  private rate: number | undefined;
  private tokens = 0;
  private refilledAt = 0;

  constructor(plan: FaultPlan = {}) {
    if (plan.script !== undefined) this.enqueue(...plan.script);
    if (plan.outage === true) this.outage = true;
    if (plan.throttlePerSecond !== undefined) this.setThrottle(plan.throttlePerSecond);
  }

  enqueue(...faults: ScriptedFault[]): void {
    const checked = faults.map((f, i) => validateFault(f, `fault #${i + 1}`));
    if (this.queue.length + checked.length > MAX_QUEUED_FAULTS) {
      throw new SidecarError('CONFIG_INVALID', `at most ${MAX_QUEUED_FAULTS} faults can be queued: script fewer steps`);
    }
    this.queue.push(...checked);
  }

  setOutage(on: boolean): void {
    this.outage = on;
  }

  setThrottle(ratePerSecond: number | undefined): void {
    if (ratePerSecond !== undefined && (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0)) {
      throw new SidecarError('CONFIG_INVALID', `throttle rate ${ratePerSecond} must be a positive number of calls per second`);
    }
    this.rate = ratePerSecond;
    // Starts full: a burst of up to one second's allowance passes, as with the service's bucket.
    this.tokens = ratePerSecond === undefined ? 0 : Math.max(1, ratePerSecond);
    this.refilledAt = Number.NaN;
  }

  clear(): void {
    this.queue.length = 0;
    this.outage = false;
    this.rate = undefined;
  }

  state(): FaultState {
    return { pending: this.queue.length, outage: this.outage, throttlePerSecond: this.rate ?? null };
  }

  /** Called once per CreateSession, in arrival order. */
  decide(nowMs: number): FaultDecision {
    const next = this.queue.shift();
    if (next !== undefined) {
      if ('drop' in next) return { action: 'drop', delayMs: next.delayMs ?? 0 };
      if ('status' in next) return scriptedResponse(next);
      return { action: 'pass', delayMs: next.delayMs };
    }
    if (this.outage) {
      return scriptedResponse({ status: 503, body: JSON.stringify({ message: 'emulated outage: the service is unavailable' }) });
    }
    if (this.rate !== undefined) {
      const burst = Math.max(1, this.rate);
      if (!Number.isNaN(this.refilledAt)) {
        this.tokens = Math.min(burst, this.tokens + (Math.max(0, nowMs - this.refilledAt) / 1000) * this.rate);
      }
      this.refilledAt = nowMs;
      if (this.tokens < 1) {
        const wait = Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
        return scriptedResponse({ status: 429, retryAfterSeconds: wait, body: JSON.stringify({ message: 'Rate exceeded' }) });
      }
      this.tokens -= 1;
    }
    return { action: 'pass', delayMs: 0 };
  }
}

function bad(where: string, what: string): SidecarError {
  return new SidecarError('CONFIG_INVALID', oneLine(`${where}: ${what}`));
}

function checkDelay(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_FAULT_DELAY_MS) {
    throw bad(where, `delayMs must be a whole number of milliseconds from 0 to ${MAX_FAULT_DELAY_MS}`);
  }
  return v;
}

/** Checks a fault from code, JSON (admin API) or the CLI; throws CONFIG_INVALID saying what is wrong. */
export function validateFault(f: unknown, where = 'fault'): ScriptedFault {
  if (typeof f !== 'object' || f === null || Array.isArray(f))
    throw bad(where, 'must be an object such as {"status":429,"retryAfterSeconds":2}, {"drop":true} or {"delayMs":500}');
  const o = f as Record<string, unknown>;
  const known = new Set(['status', 'retryAfterSeconds', 'body', 'errorType', 'delayMs', 'drop']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw bad(where, `unknown field "${oneLine(k, 40)}"`);
  const delayMs = checkDelay(o.delayMs, where);
  const withDelay = delayMs !== undefined ? { delayMs } : {};
  if (o.drop !== undefined) {
    if (o.drop !== true) throw bad(where, 'drop must be true');
    if (o.status !== undefined || o.body !== undefined || o.retryAfterSeconds !== undefined || o.errorType !== undefined) {
      throw bad(where, 'a drop fault takes only delayMs');
    }
    return { drop: true, ...withDelay };
  }
  if (o.status === undefined) {
    if (delayMs === undefined || o.body !== undefined || o.retryAfterSeconds !== undefined || o.errorType !== undefined) {
      throw bad(where, 'give status (a scripted answer), drop:true, or only delayMs (latency)');
    }
    return { delayMs };
  }
  if (typeof o.status !== 'number' || !Number.isInteger(o.status) || o.status < 200 || o.status > 599) {
    throw bad(where, 'status must be an HTTP status from 200 to 599');
  }
  const out: { status: number; retryAfterSeconds?: number; body?: string; errorType?: string; delayMs?: number } = { status: o.status, ...withDelay };
  if (o.retryAfterSeconds !== undefined) {
    if (typeof o.retryAfterSeconds !== 'number' || !Number.isInteger(o.retryAfterSeconds) || o.retryAfterSeconds < 0 || o.retryAfterSeconds > 86_400) {
      throw bad(where, 'retryAfterSeconds must be a whole number from 0 to 86400');
    }
    out.retryAfterSeconds = o.retryAfterSeconds;
  }
  if (o.body !== undefined) {
    if (typeof o.body !== 'string' || Buffer.byteLength(o.body, 'utf8') > MAX_FAULT_BODY_BYTES)
      throw bad(where, `body must be a string of at most ${MAX_FAULT_BODY_BYTES} bytes`);
    out.body = o.body;
  }
  if (o.errorType !== undefined) {
    if (typeof o.errorType !== 'string' || !/^[A-Za-z0-9_.:#/-]{1,200}$/.test(o.errorType))
      throw bad(where, 'errorType must be a name such as ThrottlingException');
    out.errorType = o.errorType;
  }
  return out;
}

/**
 * Parses the CLI's `--fault` value: comma-separated steps, each optionally repeated with
 * `N*`:
 *   `429` / `429:retry-after=2`  a scripted status (any 200-599)
 *   `drop`                       reset the connection
 *   `delay=500`                  answer normally after 500 ms
 *   `empty-set`                  201 with `{"credentialSet":[]}`
 *   `malformed`                  201 with a truncated JSON body
 *   `outage`                     503 to every call (persistent)
 *   `throttle=5`                 at most 5 calls a second, else 429 (persistent)
 * e.g. `--fault 2*503,429:retry-after=1,drop`.
 */
export function parseFaultSpec(spec: string): FaultPlan {
  if (spec.length > 4096) throw bad('--fault', 'is longer than 4096 characters');
  const script: ScriptedFault[] = [];
  let outage = false;
  let throttlePerSecond: number | undefined;
  for (const rawItem of spec.split(',')) {
    const item = rawItem.trim();
    if (item === '') continue;
    const rep = /^(\d{1,4})\*(.+)$/.exec(item);
    const times = rep ? Number(rep[1]) : 1;
    const step = rep ? rep[2]! : item;
    const where = `--fault step "${oneLine(item, 40)}"`;
    let fault: ScriptedFault;
    let m: RegExpExecArray | null;
    if (step === 'outage' || (m = /^throttle=(\d+(?:\.\d+)?)$/.exec(step)) !== null) {
      if (rep) throw bad(where, 'outage and throttle are persistent modes and take no repeat count');
      if (step === 'outage') outage = true;
      else {
        throttlePerSecond = Number(m![1]);
        if (!(throttlePerSecond > 0)) throw bad(where, 'the throttle rate must be a positive number of calls per second');
      }
      continue;
    }
    if (step === 'drop') fault = { drop: true };
    else if (step === 'empty-set') fault = { status: 201, body: '{"credentialSet":[]}' };
    else if (step === 'malformed') fault = { status: 201, body: '{"credentialSet":[{"credentials":' };
    else if ((m = /^delay=(\d+)$/.exec(step)) !== null) fault = { delayMs: Number(m[1]) };
    else if ((m = /^(\d{3})(?::retry-after=(\d+))?$/.exec(step)) !== null) {
      fault = m[2] !== undefined ? { status: Number(m[1]), retryAfterSeconds: Number(m[2]) } : { status: Number(m[1]) };
    } else {
      throw bad(where, 'is not one of <status>[:retry-after=N], drop, delay=<ms>, empty-set, malformed, outage, throttle=<rate>');
    }
    fault = validateFault(fault, where);
    if (script.length + times > MAX_QUEUED_FAULTS) throw bad('--fault', `scripts more than ${MAX_QUEUED_FAULTS} steps`);
    for (let i = 0; i < times; i++) script.push(fault);
  }
  return {
    ...(script.length > 0 ? { script } : {}),
    ...(outage ? { outage } : {}),
    ...(throttlePerSecond !== undefined ? { throttlePerSecond } : {}),
  };
}
