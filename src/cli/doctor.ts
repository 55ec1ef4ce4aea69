/**
 * `doctor`: takes credential-process's identity and ARN flags and checks, in order, what
 * makes Roles Anywhere refuse a session, one line per check (ok / problem and the fix /
 * skipped and why): the certificate and key, their validity, the chain to the trust
 * anchor's bundle, anchor and profile enabled, the role in the profile, region agreement,
 * the duration, revocation by the anchor's enabled CRLs, this host's clock against the
 * service's `Date`, and finally a real CreateSession. The control-plane checks use
 * `@aws-sdk/client-rolesanywhere` with the caller's AWS credentials when there are any;
 * without them they are skipped with a note and CreateSession still decides.
 * Exit 0 only when no check found a problem; `--json` prints one document.
 */
// The CRL parser (@peculiar/x509) resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { SidecarError, isSidecarError, oneLine, toSidecarError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import type { Options } from '../config/parse.js';
import { validateChain } from '../emulator/chain.js';
import { parseCaBundle } from '../identity/ca-bundle.js';
import { parseCrl, revocationOf } from '../emulator/control/crl.js';
import { parseProfileArn, parseTrustAnchorArn } from '../session/arn.js';
import { controlClientFrom, controlError, type ControlClient } from './control-client.js';
import { endpointFrom, identityConfigFrom, identityLoader, loggerFrom, sessionFrom, sessionParamsFrom } from './context.js';
import { writeOut, type CliIo } from './io.js';

export type CheckStatus = 'ok' | 'problem' | 'skipped';

export interface Check {
  readonly id: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly fix?: string;
}

/** SigV4 refuses requests signed more than 5 minutes from the service's clock. */
const MAX_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 86_400_000;
/** Below this much life left the validity check says so (still ok). */
const EXPIRY_WARNING_MS = 7 * DAY_MS;

interface AnchorDetail {
  trustAnchorArn?: string;
  enabled?: boolean;
  source?: { sourceType?: string; sourceData?: { x509CertificateData?: string; acmPcaArn?: string } };
}
interface ProfileDetail {
  profileArn?: string;
  enabled?: boolean;
  roleArns?: string[];
  durationSeconds?: number;
  acceptRoleSessionName?: boolean;
}
interface CrlDetail {
  name?: string;
  crlArn?: string;
  enabled?: boolean;
  trustAnchorArn?: string;
  crlData?: Uint8Array;
}

interface ControlState {
  readonly anchor?: AnchorDetail;
  readonly profile?: ProfileDetail;
  readonly crls?: CrlDetail[];
  /** Why the control plane could not be read (credentials, access). */
  readonly unavailable?: string;
  readonly anchorProblem?: string;
  readonly profileProblem?: string;
  /** The service's clock, from the Date header of a control-plane answer. */
  readonly serviceDateMs?: number;
}

const ok = (id: string, message: string): Check => ({ id, status: 'ok', message });
const problem = (id: string, message: string, fix: string): Check => ({ id, status: 'problem', message, fix });
const skipped = (id: string, message: string): Check => ({ id, status: 'skipped', message });

function days(ms: number): string {
  const d = ms / DAY_MS;
  return d >= 2 ? `${Math.floor(d)} days` : `${Math.max(0, Math.round(ms / 3_600_000))} hours`;
}

/** Reads anchor, profile and the anchor's CRLs; records the service's Date header on the way. */
async function readControlPlane(c: ControlClient, anchorArn: string, profileArn: string): Promise<ControlState> {
  let serviceDateMs: number | undefined;
  c.client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const date = (out.response as { headers?: Record<string, string> }).headers?.date;
      const ms = date !== undefined ? Date.parse(date) : NaN;
      if (!Number.isNaN(ms)) serviceDateMs = ms;
      return out;
    },
    { step: 'deserialize', name: 'doctorServiceDate' },
  );
  const { sdk, client } = c;
  const anchorId = parseTrustAnchorArn(anchorArn).resource.split('/')[1] ?? '';
  const profileId = parseProfileArn(profileArn).resource.split('/')[1] ?? '';
  const state: { -readonly [K in keyof ControlState]: ControlState[K] } = {};
  try {
    state.anchor = (await client.send(new sdk.GetTrustAnchorCommand({ trustAnchorId: anchorId }))).trustAnchor;
  } catch (e) {
    const err = controlError(e, 'GetTrustAnchor');
    if (err.code === 'SERVICE_NOT_FOUND') state.anchorProblem = `trust anchor ${anchorArn} does not exist in ${c.region}`;
    else return { unavailable: err.message, ...(serviceDateMs !== undefined ? { serviceDateMs } : {}) };
  }
  try {
    state.profile = (await client.send(new sdk.GetProfileCommand({ profileId }))).profile;
  } catch (e) {
    const err = controlError(e, 'GetProfile');
    if (err.code === 'SERVICE_NOT_FOUND') state.profileProblem = `profile ${profileArn} does not exist in ${c.region}`;
    else return { unavailable: err.message, ...(serviceDateMs !== undefined ? { serviceDateMs } : {}) };
  }
  if (state.anchor !== undefined) {
    const crls: CrlDetail[] = [];
    let nextToken: string | undefined;
    try {
      for (let i = 0; i < 50; i++) {
        const page = await client.send(new sdk.ListCrlsCommand({ ...(nextToken !== undefined ? { nextToken } : {}) }));
        crls.push(...((page.crls ?? []) as CrlDetail[]).filter((x) => x.trustAnchorArn === anchorArn));
        nextToken = page.nextToken;
        if (nextToken === undefined) break;
      }
      state.crls = crls;
    } catch (e) {
      state.unavailable = `the CRLs could not be listed (${controlError(e, 'ListCrls').message})`;
    }
  }
  if (serviceDateMs !== undefined) state.serviceDateMs = serviceDateMs;
  return state;
}

/** The service's clock from any answer of the endpoint (an unsigned GET is refused, with a Date). */
async function serviceDate(url: URL): Promise<number | undefined> {
  const { request } = await import('undici');
  try {
    const res = await request(new URL('/trustanchors', url), { method: 'GET', headersTimeout: 5000, bodyTimeout: 5000 });
    await res.body.dump();
    const date = res.headers.date;
    const ms = typeof date === 'string' ? Date.parse(date) : NaN;
    return Number.isNaN(ms) ? undefined : ms;
  } catch {
    return undefined;
  }
}

export async function runChecks(opts: Options, io: CliIo): Promise<Check[]> {
  const logger = loggerFrom(opts, io, { command: 'doctor' }, 'error');
  const params = sessionParamsFrom(opts);
  let endpoint: ReturnType<typeof endpointFrom> | undefined;
  let endpointError: SidecarError | undefined;
  try {
    endpoint = endpointFrom(opts, params);
  } catch (e) {
    endpointError = toSidecarError(e);
    if (endpointError.code !== 'REGION_MISMATCH') throw e;
  }
  const checks: Check[] = [];
  const now = io.clock.now();

  // 1. certificate and key
  let identity: Identity | undefined;
  let identityError: SidecarError | undefined;
  try {
    identity = await identityLoader(identityConfigFrom(opts, true, io), io, logger)();
    checks.push(
      ok(
        'identity',
        `certificate ${oneLine(identity.certificate.subject.replace(/\n/g, ', '), 120)} (serial ${identity.serialDecimal}) and its ${identity.signer.description} key load and match`,
      ),
    );
  } catch (e) {
    identityError = toSidecarError(e);
    const validity = identityError.code === 'CERT_EXPIRED' || identityError.code === 'CERT_NOT_YET_VALID';
    checks.push(
      validity
        ? ok('identity', 'the certificate and key load (see the validity check)')
        : problem(
            'identity',
            identityError.message,
            'give the workload certificate and the private key that belongs to it (--certificate, --private-key, --intermediates)',
          ),
    );
  }

  // 2. validity
  if (identity !== undefined) {
    const left = identity.notAfter - now;
    checks.push(
      ok('validity', `valid until ${new Date(identity.notAfter).toISOString()} (${days(left)} left${left < EXPIRY_WARNING_MS ? ': renew it soon' : ''})`),
    );
  } else if (identityError !== undefined && (identityError.code === 'CERT_EXPIRED' || identityError.code === 'CERT_NOT_YET_VALID')) {
    checks.push(
      problem(
        'validity',
        identityError.message,
        identityError.code === 'CERT_EXPIRED' ? 'issue a new certificate' : "wait until notBefore, or check this host's clock",
      ),
    );
  } else {
    checks.push(skipped('validity', 'the certificate did not load'));
  }

  // 3-8 need the control plane: read it once, with the caller's AWS credentials.
  const anchorArn = parseTrustAnchorArn(params.trustAnchorArn);
  let control: ControlState;
  const c = await controlClientFrom(opts, opts.str('region') ?? anchorArn.region);
  try {
    control = await readControlPlane(c, params.trustAnchorArn, params.profileArn);
  } finally {
    c.close();
  }
  const note =
    control.unavailable !== undefined ? `the control plane could not be read (${control.unavailable}); CreateSession below still decides` : undefined;

  // 3. chain to the anchor's bundle
  if (note !== undefined) checks.push(skipped('chain', note));
  else if (control.anchorProblem !== undefined)
    checks.push(
      problem('chain', control.anchorProblem, 'check --trust-anchor-arn (and the region in it), or create the anchor with "rolesanywhere-sidecar setup"'),
    );
  else if (identity === undefined) checks.push(skipped('chain', 'the certificate did not load'));
  else {
    const pem = control.anchor?.source?.sourceData?.x509CertificateData;
    if (pem === undefined) {
      checks.push(
        skipped(
          'chain',
          `the trust anchor's source is ${control.anchor?.source?.sourceType ?? 'unknown'}, whose CA certificate the control plane does not return`,
        ),
      );
    } else {
      let result: ReturnType<typeof validateChain> | undefined;
      let why = '';
      try {
        result = validateChain(identity.certificate, identity.chain, parseCaBundle(pem, "the trust anchor's bundle"), now);
      } catch (e) {
        why = isSidecarError(e) ? e.message : oneLine(String(e));
      }
      if (result?.ok === true)
        checks.push(ok('chain', `the certificate chains to "${oneLine(result.root.subject.replace(/\n/g, ', '), 100)}" in the trust anchor's bundle`));
      else
        checks.push(
          problem(
            'chain',
            result?.ok === false ? result.message : why,
            'give the intermediates in issuing order (--intermediates), or put the issuing CA in the trust anchor (setup --trust-anchor-ca)',
          ),
        );
    }
  }

  // 4. enabled
  if (note !== undefined) checks.push(skipped('enabled', note));
  else {
    const off: string[] = [];
    if (control.anchorProblem !== undefined) off.push(control.anchorProblem);
    else if (control.anchor?.enabled !== true) off.push(`trust anchor ${params.trustAnchorArn} is disabled`);
    if (control.profileProblem !== undefined) off.push(control.profileProblem);
    else if (control.profile?.enabled !== true) off.push(`profile ${params.profileArn} is disabled`);
    if (off.length === 0) checks.push(ok('enabled', 'the trust anchor and the profile are enabled'));
    else checks.push(problem('enabled', off.join('; '), 'enable them (aws rolesanywhere enable-trust-anchor / enable-profile, or run setup again)'));
  }

  // 5. role in the profile
  if (note !== undefined) checks.push(skipped('role', note));
  else if (control.profile === undefined) checks.push(skipped('role', control.profileProblem ?? 'the profile was not read'));
  else if ((control.profile.roleArns ?? []).includes(params.roleArn)) checks.push(ok('role', `role ${params.roleArn} is one of the profile's roles`));
  else
    checks.push(
      problem(
        'role',
        `role ${params.roleArn} is not one of the profile's roles (${(control.profile.roleArns ?? []).join(', ') || 'none'})`,
        'add it to the profile (update-profile --role-arns, or setup --role-arn), or pass one of its roles',
      ),
    );

  // 6. regions: trust anchor, profile, endpoint
  // An AWS endpoint names its region in the host name.
  const hostRegion = endpoint !== undefined ? /^rolesanywhere(?:-fips)?\.([a-z]{2,8}(?:-[a-z0-9]+)+-\d{1,3})\./.exec(endpoint.url.hostname)?.[1] : undefined;
  if (endpointError !== undefined)
    checks.push(problem('region', endpointError.message, "use the trust anchor and profile of one region, and that region's endpoint"));
  else if (hostRegion !== undefined && hostRegion !== endpoint!.region) {
    checks.push(
      problem(
        'region',
        `--endpoint ${endpoint!.url.host} is the ${hostRegion} endpoint, but the trust anchor is in ${endpoint!.region}`,
        `use the ${endpoint!.region} endpoint, or drop --endpoint`,
      ),
    );
  } else checks.push(ok('region', `trust anchor, profile and endpoint agree on ${endpoint!.region}`));

  // 7. duration
  if (note !== undefined) checks.push(skipped('duration', note));
  else if (control.profile === undefined) checks.push(skipped('duration', control.profileProblem ?? 'the profile was not read'));
  else {
    const max = control.profile.durationSeconds ?? 3600;
    const named = params.roleSessionName !== undefined && control.profile.acceptRoleSessionName !== true;
    if (params.durationSeconds > max)
      checks.push(
        problem(
          'duration',
          `--session-duration ${params.durationSeconds} is above the profile's ${max} seconds`,
          `ask for at most ${max} (--session-duration ${max}), or raise the profile's durationSeconds`,
        ),
      );
    else if (named)
      checks.push(
        problem(
          'duration',
          `the profile does not accept --role-session-name (acceptRoleSessionName is off)`,
          'drop --role-session-name, or turn acceptRoleSessionName on in the profile',
        ),
      );
    else checks.push(ok('duration', `${params.durationSeconds} seconds is within the profile's ${max}`));
  }

  // 8. revocation
  if (note !== undefined) checks.push(skipped('revocation', note));
  else if (identity === undefined) checks.push(skipped('revocation', 'the certificate did not load'));
  else if (control.crls === undefined) checks.push(skipped('revocation', control.anchorProblem ?? 'the CRLs were not read'));
  else {
    const lists = control.crls.flatMap((x) => {
      const parsed = x.enabled === true && x.crlData !== undefined ? parseCrl(Buffer.from(x.crlData)) : undefined;
      return parsed === undefined
        ? []
        : [{ crlArn: x.crlArn ?? '', name: x.name ?? '', issuerDerHex: parsed.issuerDerHex, revokedSerials: parsed.revokedSerials }];
    });
    const revoked = revocationOf([identity.certificate, ...identity.chain], lists);
    if (revoked === undefined) checks.push(ok('revocation', `not revoked by the trust anchor's ${lists.length} enabled CRL(s)`));
    else checks.push(problem('revocation', revoked, 'issue a new certificate (or, if the revocation was a mistake, import a corrected CRL)'));
  }

  // 9. clock
  const dateMs = control.serviceDateMs ?? (endpoint !== undefined ? await serviceDate(endpoint.url) : undefined);
  if (dateMs === undefined) checks.push(skipped('clock', 'the service sent no Date header'));
  else {
    const skew = io.clock.now() - dateMs;
    const text = `this host's clock is ${Math.abs(Math.round(skew / 1000))} s ${skew >= 0 ? 'ahead of' : 'behind'} the service's`;
    if (Math.abs(skew) > MAX_SKEW_MS - 30_000)
      checks.push(
        problem('clock', `${text}; SigV4 refuses requests more than 5 minutes off`, "synchronize this host's clock (NTP: chronyd or systemd-timesyncd)"),
      );
    else checks.push(ok('clock', text));
  }

  // 10. the real thing
  if (identity === undefined) {
    checks.push(skipped('create-session', 'the certificate did not load'));
  } else if (endpointError !== undefined) {
    checks.push(skipped('create-session', 'the regions do not agree (see the region check)'));
  } else {
    const loaded = identity;
    const session = await sessionFrom(opts, io, logger, () => loaded);
    try {
      const creds = await session.client.getCredentials();
      checks.push(
        ok(
          'create-session',
          `CreateSession at ${session.endpointUrl.host} issued credentials ${creds.accessKeyId} until ${new Date(creds.expiration).toISOString()}`,
        ),
      );
    } catch (e) {
      const err = toSidecarError(e);
      checks.push(problem('create-session', `${err.message} [${err.code}]`, "fix the problems above; this is the service's own answer"));
    } finally {
      await session.client.close();
    }
  }
  return checks;
}

function line(c: Check): string {
  const tag = c.status === 'ok' ? 'ok     ' : c.status === 'problem' ? 'PROBLEM' : 'skipped';
  return `${tag} ${c.id}: ${c.message}${c.fix !== undefined ? `\n        fix: ${c.fix}` : ''}\n`;
}

export async function doctor(opts: Options, io: CliIo): Promise<number> {
  const checks = await runChecks(opts, io);
  const healthy = !checks.some((c) => c.status === 'problem');
  if (opts.bool('json')) await writeOut(io.stdout, `${JSON.stringify({ ok: healthy, checks })}\n`);
  else
    await writeOut(
      io.stdout,
      checks.map(line).join('') + (healthy ? 'all checks passed\n' : `${checks.filter((c) => c.status === 'problem').length} problem(s) found\n`),
    );
  return healthy ? 0 : 1;
}
