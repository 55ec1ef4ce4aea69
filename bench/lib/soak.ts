/**
 * The fault soak: the real `serve` process against the emulator (in this process) issuing
 * short-lived credentials, with clients polling every endpoint while the emulator throttles,
 * fails, stalls, drops connections and goes down on a schedule, and the certificate files
 * are rewritten mid-run. Every response is judged:
 *
 *  - a credentials response must never carry empty or expired credentials;
 *  - 503 (404 on IMDS's extended path) is allowed only while the sidecar could not have held
 *    servable credentials: judged after the run against the newest credentials the emulator
 *    had issued (the sidecar stops serving SERVE_SKEW_MS before expiry), with a small
 *    tolerance for the time in flight;
 *  - any other 4xx/5xx, and any transport error, is bad.
 *
 * It also checks that CreateSession attempts stay within a bound derived from the schedule
 * and the retry policy, and that CreateSession is signed with the rotated certificate after
 * the rotation. bench/soak.ts runs the long schedule; test/integration/soak-short.test.ts the
 * short one.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { ScriptedFault } from '../../src/emulator/index.js';
import { failureRetryDelayMs, refreshDelayMs, SERVE_SKEW_MS } from '../../src/refresh/schedule.js';
import { DEFAULT_RETRY_POLICY } from '../../src/session/retry.js';
import { cleanup, startTestEmulator, writePki } from '../../test/helpers/harness.js';
import { startSidecarProcess, type SidecarProcess } from './procs.js';

export type SoakEvent =
  | { readonly at: number; readonly kind: 'faults'; readonly label: string; readonly faults: readonly ScriptedFault[] }
  | { readonly at: number; readonly kind: 'throttle'; readonly label: string; readonly ratePerSecond: number | undefined }
  | { readonly at: number; readonly kind: 'outage'; readonly label: string; readonly on: boolean }
  | { readonly at: number; readonly kind: 'rotate'; readonly label: string };

export interface SoakSchedule {
  /** Seconds. */
  readonly durationS: number;
  /** The emulator caps issued credentials to this lifetime (seconds). */
  readonly credentialLifetimeS: number;
  /** Event times in seconds from the start, in order. */
  readonly events: readonly SoakEvent[];
}

/**
 * The 5-minute schedule (times scale with the duration): 30 s credentials, so the sidecar
 * refreshes every 9-12 s and every phase spans several refreshes.
 */
export function fullSchedule(minutes = 5): SoakSchedule {
  const k = minutes / 5;
  const t = (s: number) => Math.round(s * k * 10) / 10;
  return {
    durationS: t(300),
    credentialLifetimeS: 30,
    events: [
      {
        at: t(20),
        kind: 'faults',
        label: '5xx burst absorbed by the client retries (500, 503, 500)',
        faults: [{ status: 500 }, { status: 503 }, { status: 500 }],
      },
      { at: t(35), kind: 'faults', label: 'five 503s: one refresh fails, the refresher retries', faults: Array.from({ length: 5 }, () => ({ status: 503 })) },
      // Slower than the refresh cadence (9-12 s), so refreshes really meet 429s.
      { at: t(50), kind: 'throttle', label: 'throttling: 1 call per 20 s, 429 with Retry-After', ratePerSecond: 0.05 },
      { at: t(90), kind: 'throttle', label: 'throttling off', ratePerSecond: undefined },
      { at: t(95), kind: 'faults', label: 'latency: three calls answered after 3 s', faults: [{ delayMs: 3000 }, { delayMs: 3000 }, { delayMs: 3000 }] },
      { at: t(115), kind: 'faults', label: 'dropped connections (three resets)', faults: [{ drop: true }, { drop: true }, { drop: true }] },
      { at: t(130), kind: 'rotate', label: 'certificate rotation (cert and key files rewritten)' },
      {
        at: t(150),
        kind: 'faults',
        label: 'mixed: 429 Retry-After 2, reset, 500',
        faults: [{ status: 429, retryAfterSeconds: 2 }, { drop: true }, { status: 500 }],
      },
      { at: t(170), kind: 'outage', label: 'outage: every CreateSession 503 for longer than a credential lives', on: true },
      { at: t(230), kind: 'outage', label: 'outage over', on: false },
    ],
  };
}

/** About 45 s, for the integration test: 15 s credentials, every kind of fault once. */
export function shortSchedule(): SoakSchedule {
  return {
    durationS: 45,
    credentialLifetimeS: 15,
    events: [
      { at: 4, kind: 'faults', label: '5xx burst (500, 503)', faults: [{ status: 500 }, { status: 503 }] },
      { at: 8, kind: 'faults', label: 'reset and 1.5 s latency', faults: [{ drop: true }, { delayMs: 1500 }] },
      // Before the throttling, so no refresh is waiting out a Retry-After when the files change.
      { at: 13, kind: 'rotate', label: 'certificate rotation' },
      { at: 17, kind: 'throttle', label: 'throttling: 1 call per 10 s', ratePerSecond: 0.1 },
      { at: 24, kind: 'throttle', label: 'throttling off', ratePerSecond: undefined },
      { at: 30, kind: 'outage', label: 'outage', on: true },
      { at: 37, kind: 'outage', label: 'outage over', on: false },
    ],
  };
}

export interface SoakOptions {
  readonly schedule: SoakSchedule;
  /** Concurrent pollers per endpoint (IMDS classic, IMDS extended, container). Default 3. */
  readonly pollersPerEndpoint?: number;
  /** Pause between one poller's requests, ms. Default 20. */
  readonly pollIntervalMs?: number;
  /** Progress lines (the CLI prints them; the test drops them). */
  readonly log?: (line: string) => void;
}

export interface BadResponse {
  readonly atS: number;
  readonly endpoint: string;
  readonly what: string;
}

export interface PhaseStats {
  readonly fromS: number;
  readonly label: string;
  createSessionAttempts: number;
  createSessionOk: number;
  createSessionFaulted: number;
  responses200: number;
  responsesUnavailable: number;
}

export interface SoakReport {
  readonly durationS: number;
  readonly credentialLifetimeS: number;
  readonly requests: number;
  readonly byEndpoint: Record<string, Record<string, number>>;
  readonly bad: readonly BadResponse[];
  readonly badCounts: Record<string, number>;
  /** 503 (or 404 on the extended path) while no servable credentials could be held. */
  readonly allowedUnavailable: number;
  readonly tokenRefreshes: number;
  /** Least life left on any credentials served, ms. */
  readonly minRemainingMs: number;
  readonly distinctAccessKeys: number;
  readonly unknownAccessKeys: number;
  readonly healthz: { readonly ok: number; readonly failed: number };
  readonly readyz: Record<string, number>;
  readonly createSession: {
    readonly attempts: number;
    readonly ok: number;
    readonly faulted: number;
    readonly rejected: number;
    readonly bound: number;
    readonly boundParts: Record<string, number>;
    readonly withinBound: boolean;
  };
  readonly rotation: {
    readonly atS: number;
    readonly newSerial: string;
    readonly firstNewUseAfterS: number | undefined;
    readonly oldUsesAfterGrace: number;
    readonly ok: boolean;
  } | null;
  readonly outage: { readonly fromS: number; readonly toS: number; readonly recoveredAfterS: number | undefined } | null;
  readonly phases: readonly PhaseStats[];
  readonly sidecarExit: { readonly code: number | null; readonly signal: string | null };
  readonly ok: boolean;
}

/** Extra time a 503 may lag the end of servability: requests in flight and timer jitter. */
const UNAVAILABLE_TOLERANCE_MS = 1_000;
/** After a rotation, CreateSession may still use the old certificate for one poll interval plus an in-flight call. */
const ROTATION_GRACE_MS = 5_000;
const IDENTITY_POLL_S = 1;
const SESSION_DURATION_S = 900;

interface Sample {
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly endpoint: string;
}

/**
 * A deterministic upper bound on CreateSession attempts for a schedule, from the refresh and
 * retry rules themselves:
 *  - a refresh after a success comes no sooner than refreshDelayMs(random 0) (30 % of the
 *    lifetime here), so successful refreshes number at most duration / that + 1, plus one per
 *    rotation (the reload refreshes at once) and one per fault event (a failure streak ends
 *    in at most one success);
 *  - each scripted fault consumes exactly one attempt;
 *  - inside a persistent window (throttle, outage) a refresh makes at most maxAttempts
 *    attempts and the next refresh comes no sooner than failureRetryDelayMs(random 0); under
 *    throttling the attempts of one refresh are further spaced by the Retry-After (>= 1 s),
 *    and the bucket lets rate x window calls through.
 */
export function createSessionBound(s: SoakSchedule): { bound: number; parts: Record<string, number> } {
  const lifetimeMs = s.credentialLifetimeS * 1000;
  const minRefreshMs = refreshDelayMs({ issuedAt: 0, expiration: lifetimeMs, random01: 0 });
  const minRetryMs = failureRetryDelayMs(1, 0);
  const attemptsPerRun = DEFAULT_RETRY_POLICY.maxAttempts;
  const durationMs = s.durationS * 1000;
  const rotations = s.events.filter((e) => e.kind === 'rotate').length;
  const faultEvents = s.events.filter((e) => e.kind !== 'rotate').length;
  const scripted = s.events.reduce((a, e) => a + (e.kind === 'faults' ? e.faults.length : 0), 0);
  let windows = 0;
  let throttleRate: number | undefined;
  let throttleFrom = 0;
  let outageFrom: number | undefined;
  const close = (kind: 'throttle' | 'outage', from: number, to: number, rate?: number) => {
    const w = Math.max(0, to - from) * 1000;
    if (kind === 'outage') windows += attemptsPerRun * (Math.floor(w / minRetryMs) + 1);
    else {
      // Retry-After >= 1 s between the attempts of one refresh, then >= minRetryMs.
      const runSpan = (attemptsPerRun - 1) * 1000 + minRetryMs;
      windows += attemptsPerRun * (Math.floor(w / runSpan) + 1) + Math.ceil((w / 1000) * (rate ?? 0)) + 1;
    }
  };
  for (const e of s.events) {
    if (e.kind === 'throttle') {
      if (throttleRate !== undefined) close('throttle', throttleFrom, e.at, throttleRate);
      throttleRate = e.ratePerSecond;
      throttleFrom = e.at;
    } else if (e.kind === 'outage') {
      if (e.on && outageFrom === undefined) outageFrom = e.at;
      else if (!e.on && outageFrom !== undefined) {
        close('outage', outageFrom, e.at);
        outageFrom = undefined;
      }
    }
  }
  if (throttleRate !== undefined) close('throttle', throttleFrom, s.durationS, throttleRate);
  if (outageFrom !== undefined) close('outage', outageFrom, s.durationS);
  const successes = Math.floor(durationMs / minRefreshMs) + 1 + rotations + faultEvents;
  const parts = { successfulRefreshes: successes, scriptedFaults: scripted, persistentWindows: windows };
  return { bound: successes + scripted + windows, parts };
}

function serialDecimal(certPem: string): string {
  return BigInt(`0x${new X509Certificate(certPem).serialNumber}`).toString(10);
}

/** Writes `content` to `path` through a temp file and rename, as a secret-mounting agent does. */
function replaceFile(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function get(agent: Agent, url: string, headers: Record<string, string>, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (body.length > 64 * 1024) req.destroy(new Error('response larger than 64 KiB'));
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const s = o.schedule;
  const log = o.log ?? (() => undefined);
  const pollers = o.pollersPerEndpoint ?? 3;
  const pollIntervalMs = o.pollIntervalMs ?? 20;
  const pki = await writePki();
  const certPath = join(pki.dir, 'soak-cert.pem');
  const keyPath = join(pki.dir, 'soak-key.pem');
  copyFileSync(pki.ec256.cert, certPath);
  copyFileSync(pki.ec256.key, keyPath);
  const rotated = await pki.leaf('soak-rotated', 'ec-p256', { underRoot: true });
  const newSerial = serialDecimal(rotated.issued.certPem);
  const emu = await startTestEmulator(pki, { credentialLifetimeSeconds: s.credentialLifetimeS });
  let sidecar: SidecarProcess | undefined;
  const agents: Agent[] = [];
  try {
    sidecar = await startSidecarProcess({
      env: emu.env,
      cert: certPath,
      key: keyPath,
      // --rotation-jitter 0: the soak checks the rotated certificate is used within one poll interval.
      args: ['--identity-poll-interval', String(IDENTITY_POLL_S), '--rotation-jitter', '0', '--session-duration', String(SESSION_DURATION_S)],
    });
    const sc = sidecar;
    const start = Date.now();
    const atS = (t: number) => Math.round((t - start) / 100) / 10;
    const end = start + s.durationS * 1000;

    // ---- bookkeeping ---------------------------------------------------------------------
    const byEndpoint: Record<string, Record<string, number>> = {};
    const bad: BadResponse[] = [];
    const badCounts: Record<string, number> = {};
    const unavailable: Sample[] = [];
    const accessKeys = new Set<string>();
    let minRemainingMs = Number.POSITIVE_INFINITY;
    let tokenRefreshes = 0;
    let requests = 0;
    const healthz = { ok: 0, failed: 0 };
    const readyz: Record<string, number> = {};
    const phases: PhaseStats[] = [
      { fromS: 0, label: 'start', createSessionAttempts: 0, createSessionOk: 0, createSessionFaulted: 0, responses200: 0, responsesUnavailable: 0 },
    ];
    const phase = () => phases[phases.length - 1]!;
    const tally = (endpoint: string, key: string) => {
      const e = (byEndpoint[endpoint] ??= {});
      e[key] = (e[key] ?? 0) + 1;
    };
    const flag = (endpoint: string, what: string, at: number) => {
      const kind = what.split(':')[0]!;
      badCounts[kind] = (badCounts[kind] ?? 0) + 1;
      if (bad.length < 50) bad.push({ atS: atS(at), endpoint, what });
    };

    /** Judges one credentials response (a JSON document in both endpoints' shapes). */
    const judge = (endpoint: string, r: Reply, sentAt: number, receivedAt: number, extended: boolean) => {
      requests++;
      tally(endpoint, String(r.status));
      if (r.status === 200) {
        phase().responses200++;
        let doc: Record<string, unknown>;
        try {
          doc = JSON.parse(r.body) as Record<string, unknown>;
        } catch {
          flag(endpoint, 'malformed: 200 with a body that is not JSON', receivedAt);
          return;
        }
        const { AccessKeyId: id, SecretAccessKey: secret, Token: token, Expiration: exp } = doc;
        if (typeof id !== 'string' || id === '' || typeof secret !== 'string' || secret === '' || typeof token !== 'string' || token === '') {
          flag(endpoint, 'empty: 200 without complete credentials', receivedAt);
          return;
        }
        if (endpoint.startsWith('imds') && doc.Code !== 'Success') flag(endpoint, `malformed: IMDS Code ${String(doc.Code)}`, receivedAt);
        const expiry = typeof exp === 'string' ? Date.parse(exp) : Number.NaN;
        if (!Number.isFinite(expiry)) {
          flag(endpoint, 'malformed: Expiration missing or unparsable', receivedAt);
          return;
        }
        if (expiry <= receivedAt) flag(endpoint, `expired: Expiration ${String(exp)} received at ${new Date(receivedAt).toISOString()}`, receivedAt);
        minRemainingMs = Math.min(minRemainingMs, expiry - receivedAt);
        accessKeys.add(id);
        return;
      }
      // No servable credentials: 503 with Retry-After, or 404 on IMDS's extended path (so
      // Go and Java fall back to the classic path). Judged after the run.
      if (r.status === 503 || (extended && r.status === 404)) {
        phase().responsesUnavailable++;
        unavailable.push({ sentAt, receivedAt, endpoint });
        return;
      }
      flag(endpoint, `status: unexpected HTTP ${r.status}`, receivedAt);
    };

    // ---- pollers -------------------------------------------------------------------------
    let stopping = false;
    const pause = () => new Promise<void>((resolve) => setTimeout(resolve, pollIntervalMs));
    const newAgent = () => {
      // One connection per poller, reused, as an SDK's pool does.
      const a = new Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(a);
      return a;
    };
    const role = (
      await get(newAgent(), new URL('latest/meta-data/iam/security-credentials/', sc.imdsUrl).href, {
        'x-aws-ec2-metadata-token': await token(newAgent(), sc, 21600),
      })
    ).body.trim();

    const imdsPoller = async (extended: boolean, ttl: number) => {
      const agent = newAgent();
      const endpoint = extended ? 'imds-extended' : 'imds';
      const path = `latest/meta-data/iam/${extended ? 'security-credentials-extended' : 'security-credentials'}/${role}`;
      const url = new URL(path, sc.imdsUrl).href;
      const listUrl = new URL('latest/meta-data/iam/security-credentials/', sc.imdsUrl).href;
      let tok: string | undefined;
      let n = 0;
      while (!stopping) {
        const sentAt = Date.now();
        try {
          if (tok === undefined) {
            tok = await token(agent, sc, ttl);
            requests++;
            tally('imds-token', '200');
          }
          // Every tenth round, the role list first, as SDKs do before each fetch.
          if (++n % 10 === 0) {
            const l = await get(agent, listUrl, { 'x-aws-ec2-metadata-token': tok });
            requests++;
            tally('imds-list', String(l.status));
            if (l.status === 401) {
              tok = undefined;
              tokenRefreshes++;
              continue;
            }
            if (l.status !== 200 || l.body.trim() !== role) flag('imds-list', `status: role list answered ${l.status}`, Date.now());
          }
          const r = await get(agent, url, { 'x-aws-ec2-metadata-token': tok });
          if (r.status === 401) {
            // The token's TTL ran out: every SDK fetches a new one and retries.
            requests++;
            tally(endpoint, '401');
            tok = undefined;
            tokenRefreshes++;
            continue;
          }
          judge(endpoint, r, sentAt, Date.now(), extended);
        } catch (e) {
          requests++;
          tally(endpoint, 'transport-error');
          flag(endpoint, `transport: ${(e as Error).message}`, Date.now());
          tok = undefined;
        }
        await pause();
      }
    };

    const containerPoller = async () => {
      const agent = newAgent();
      while (!stopping) {
        const sentAt = Date.now();
        try {
          judge('container', await get(agent, sc.containerUrl, { authorization: sc.containerToken }), sentAt, Date.now(), false);
        } catch (e) {
          requests++;
          tally('container', 'transport-error');
          flag('container', `transport: ${(e as Error).message}`, Date.now());
        }
        await pause();
      }
    };

    const opsPoller = async () => {
      const agent = newAgent();
      while (!stopping) {
        try {
          const h = await get(agent, new URL('healthz', sc.opsUrl).href, {});
          if (h.status === 200) healthz.ok++;
          else {
            healthz.failed++;
            flag('healthz', `status: /healthz answered ${h.status}`, Date.now());
          }
          const r = await get(agent, new URL('readyz', sc.opsUrl).href, {});
          readyz[String(r.status)] = (readyz[String(r.status)] ?? 0) + 1;
        } catch (e) {
          healthz.failed++;
          flag('healthz', `transport: ${(e as Error).message}`, Date.now());
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };

    // Wait for the first credentials before the clock of the schedule starts mattering.
    const loops: Array<Promise<void>> = [];
    for (let i = 0; i < pollers; i++) {
      // One IMDS poller asks for 2 s tokens, so token expiry (401, new token) is exercised too.
      loops.push(imdsPoller(false, i === 0 ? 2 : 21600), imdsPoller(true, 21600), containerPoller());
    }
    loops.push(opsPoller());

    // ---- schedule ------------------------------------------------------------------------
    let rotationAt: number | undefined;
    let outageFrom: number | undefined;
    let outageTo: number | undefined;
    let last = { total: 0, ok: 0, faulted: 0 };
    const sampleStats = () => {
      const st = emu.stats().createSession;
      phase().createSessionAttempts += st.total - last.total;
      phase().createSessionOk += st.ok - last.ok;
      phase().createSessionFaulted += st.faulted - last.faulted;
      last = { total: st.total, ok: st.ok, faulted: st.faulted };
    };
    for (const e of s.events) {
      const due = start + e.at * 1000;
      while (Date.now() < due) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(1, due - Date.now()))));
      }
      sampleStats();
      phases.push({
        fromS: e.at,
        label: e.label,
        createSessionAttempts: 0,
        createSessionOk: 0,
        createSessionFaulted: 0,
        responses200: 0,
        responsesUnavailable: 0,
      });
      log(`t=${atS(Date.now())} s: ${e.label}`);
      switch (e.kind) {
        case 'faults':
          emu.faults.enqueue(...e.faults);
          break;
        case 'throttle':
          emu.faults.setThrottle(e.ratePerSecond);
          break;
        case 'outage':
          emu.faults.setOutage(e.on);
          if (e.on) outageFrom = Date.now();
          else outageTo = Date.now();
          break;
        case 'rotate':
          rotationAt = Date.now();
          replaceFile(certPath, rotated.issued.certPem, 0o644);
          replaceFile(keyPath, rotated.issued.keyPem, 0o600);
          break;
      }
    }
    while (Date.now() < end) await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(1, end - Date.now()))));
    sampleStats();
    stopping = true;
    await Promise.all(loops);
    emu.faults.clear();
    const sidecarExit = await sc.cli.stop();
    sidecar = undefined;

    // ---- judgement -----------------------------------------------------------------------
    const issued = emu.issued();
    const issuedKeys = new Set(issued.map((r) => r.accessKeyId));
    const unknownAccessKeys = [...accessKeys].filter((k) => !issuedKeys.has(k)).length;
    if (unknownAccessKeys > 0) flag('all', `unknown: ${unknownAccessKeys} access key(s) served that the emulator never issued`, Date.now());
    // Expiry of the newest credentials the sidecar had (or must have had) at time t: what
    // the emulator issued at least a moment before t (every issued set reaches the sidecar:
    // scripted latency stays below its timeouts, and a dropped call issues nothing). What was
    // served is a subset, so this is the stricter judge.
    const issuedTimeline = issued.map((r) => ({ at: r.issuedAt, expiration: r.expiration })).sort((a, b) => a.at - b.at);
    const heldExpiryAt = (t: number): number => {
      let best = 0;
      for (const x of issuedTimeline) {
        if (x.at > t - UNAVAILABLE_TOLERANCE_MS) break;
        best = Math.max(best, x.expiration);
      }
      return best;
    };
    // The sidecar decided somewhere between send and receipt: credentials it must have held
    // when the request was sent, still servable when the answer arrived, make it wrong.
    let allowedUnavailable = 0;
    for (const u of unavailable) {
      const heldUntil = heldExpiryAt(u.sentAt);
      if (heldUntil - SERVE_SKEW_MS - u.receivedAt > UNAVAILABLE_TOLERANCE_MS) {
        flag(
          u.endpoint,
          `unavailable-while-valid: answered "no credentials" at t=${atS(u.receivedAt)} s while credentials valid for ${Math.round((heldUntil - u.receivedAt) / 1000)} s more existed`,
          u.receivedAt,
        );
      } else {
        allowedUnavailable++;
      }
    }

    const stats = emu.stats().createSession;
    const { bound, parts } = createSessionBound(s);
    const withinBound = stats.total <= bound;
    if (!withinBound) flag('emulator', `backoff: ${stats.total} CreateSession attempts exceed the bound ${bound}`, Date.now());

    let rotation: SoakReport['rotation'] = null;
    if (rotationAt !== undefined) {
      const ra = rotationAt;
      const firstNew = issued.find((r) => r.serialDecimal === newSerial);
      const oldAfter = issued.filter((r) => r.issuedAt > ra + ROTATION_GRACE_MS && r.serialDecimal !== newSerial).length;
      const ok = firstNew !== undefined && oldAfter === 0;
      if (!ok)
        flag(
          'emulator',
          `rotation: new certificate ${firstNew === undefined ? 'never used' : 'used'}, old one used ${oldAfter} time(s) after the grace period`,
          Date.now(),
        );
      rotation = {
        atS: atS(ra),
        newSerial,
        firstNewUseAfterS: firstNew === undefined ? undefined : Math.round((firstNew.issuedAt - ra) / 100) / 10,
        oldUsesAfterGrace: oldAfter,
        ok,
      };
    }
    let outage: SoakReport['outage'] = null;
    if (outageFrom !== undefined && outageTo !== undefined) {
      const to = outageTo;
      const rec = issued.find((r) => r.issuedAt >= to);
      outage = { fromS: atS(outageFrom), toS: atS(to), recoveredAfterS: rec === undefined ? undefined : Math.round((rec.issuedAt - to) / 100) / 10 };
    }
    if (sidecarExit.code !== 0) flag('sidecar', `exit: the sidecar exited with ${String(sidecarExit.code ?? sidecarExit.signal)}`, Date.now());

    return {
      durationS: s.durationS,
      credentialLifetimeS: s.credentialLifetimeS,
      requests,
      byEndpoint,
      bad,
      badCounts,
      allowedUnavailable,
      tokenRefreshes,
      minRemainingMs: Number.isFinite(minRemainingMs) ? minRemainingMs : Number.NaN,
      distinctAccessKeys: accessKeys.size,
      unknownAccessKeys,
      healthz,
      readyz,
      createSession: { attempts: stats.total, ok: stats.ok, faulted: stats.faulted, rejected: stats.rejected, bound, boundParts: parts, withinBound },
      rotation,
      outage,
      phases,
      sidecarExit: { code: sidecarExit.code, signal: sidecarExit.signal },
      ok: Object.keys(badCounts).length === 0,
    };
  } finally {
    for (const a of agents) a.destroy();
    if (sidecar !== undefined) await sidecar.cli.stop('SIGKILL').catch(() => undefined);
    await emu.stop();
    cleanup(pki.dir);
  }
}

async function token(agent: Agent, sc: SidecarProcess, ttl: number): Promise<string> {
  const r = await new Promise<Reply>((resolve, reject) => {
    const req = request(
      new URL('latest/api/token', sc.imdsUrl),
      { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) }, agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
  if (r.status !== 200) throw new Error(`IMDS token request answered ${r.status}`);
  return r.body;
}

/** The report as text lines (counts, bound, rotation, per-phase table). */
export function formatSoakReport(r: SoakReport): string {
  const lines: string[] = [];
  lines.push(
    `Soak: ${r.durationS} s, credentials live ${r.credentialLifetimeS} s; ${r.requests} requests, ${r.distinctAccessKeys} distinct credential sets served`,
  );
  lines.push(`Result: ${r.ok ? 'PASS' : 'FAIL'}`);
  lines.push('');
  lines.push('Responses by endpoint:');
  for (const [e, counts] of Object.entries(r.byEndpoint))
    lines.push(
      `  ${e.padEnd(14)} ${Object.entries(counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  lines.push(
    `  healthz ok=${r.healthz.ok} failed=${r.healthz.failed}; readyz ${Object.entries(r.readyz)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  lines.push('');
  const zero = (k: string) => r.badCounts[k] ?? 0;
  lines.push('Checks:');
  lines.push(`  expired credentials served:            ${zero('expired')}`);
  lines.push(`  empty credentials served:              ${zero('empty')}`);
  lines.push(`  "no credentials" while valid ones existed: ${zero('unavailable-while-valid')} (allowed, credentials had lapsed: ${r.allowedUnavailable})`);
  lines.push(`  other bad statuses / malformed:        ${zero('status') + zero('malformed')}`);
  lines.push(`  transport errors:                      ${zero('transport')}`);
  lines.push(`  access keys the emulator never issued: ${r.unknownAccessKeys}`);
  lines.push(`  least life left on served credentials: ${Number.isFinite(r.minRemainingMs) ? `${(r.minRemainingMs / 1000).toFixed(1)} s` : 'n/a'}`);
  lines.push(`  IMDS token refreshes after 401:        ${r.tokenRefreshes}`);
  const cs = r.createSession;
  lines.push(
    `  CreateSession attempts:                ${cs.attempts} (ok ${cs.ok}, faulted ${cs.faulted}, rejected ${cs.rejected}); bound ${cs.bound} = ${Object.entries(
      cs.boundParts,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(' + ')}: ${cs.withinBound ? 'within' : 'EXCEEDED'}`,
  );
  if (r.rotation !== null) {
    lines.push(
      `  rotation at t=${r.rotation.atS} s: new certificate (serial ${r.rotation.newSerial.slice(0, 12)}...) first used after ${r.rotation.firstNewUseAfterS ?? 'never'} s; old one used after the grace period: ${r.rotation.oldUsesAfterGrace}: ${r.rotation.ok ? 'ok' : 'FAILED'}`,
    );
  }
  if (r.outage !== null)
    lines.push(`  outage t=${r.outage.fromS}-${r.outage.toS} s: first credentials issued ${r.outage.recoveredAfterS ?? 'never'} s after it ended`);
  lines.push('');
  lines.push('Phases:');
  lines.push(
    '  (CreateSession attempts, ok and faulted; credential responses 200 and "no credentials"; queued faults are consumed by the next calls, possibly in a later phase)',
  );
  lines.push(
    `  ${'from'.padStart(6)}  ${'CS att'.padStart(6)} ${'ok'.padStart(4)} ${'fault'.padStart(5)} ${'200s'.padStart(7)} ${'no-cred'.padStart(7)}  phase`,
  );
  for (const p of r.phases) {
    lines.push(
      `  ${`${p.fromS}s`.padStart(6)}  ${String(p.createSessionAttempts).padStart(6)} ${String(p.createSessionOk).padStart(4)} ${String(p.createSessionFaulted).padStart(5)} ${String(p.responses200).padStart(7)} ${String(p.responsesUnavailable).padStart(7)}  ${p.label}`,
    );
  }
  if (r.bad.length > 0) {
    lines.push('', 'First bad responses:');
    for (const b of r.bad.slice(0, 20)) lines.push(`  t=${b.atS} s ${b.endpoint}: ${b.what}`);
  }
  return `${lines.join('\n')}\n`;
}
