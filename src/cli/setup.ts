/**
 * `setup`: creates, or finds and converges, the trust anchor (for a CA bundle) and the
 * profile (for role ARNs) through AWS's RolesAnywhereClient with the caller's credentials,
 * then prints the `export ROLESANYWHERE_...=` lines the sidecar reads. Run twice, it finds
 * what the first run made: one anchor and one profile per --name.
 */
import { SidecarError, oneLine } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import { parseRoleArnParts } from '../emulator/config.js';
import { MAX_CA_BUNDLE_BYTES, parseCaBundle } from '../identity/ca-bundle.js';
import { readFileBounded } from '../io/files.js';
import { envName } from '../config/flags.js';
import { controlClientFrom, controlError, controlRegionFrom, type ControlClient } from './control-client.js';
import { loggerFrom } from './context.js';
import { writeOut, type CliIo } from './io.js';

type Anchor = {
  trustAnchorId?: string;
  trustAnchorArn?: string;
  name?: string;
  enabled?: boolean;
  source?: { sourceType?: string; sourceData?: { x509CertificateData?: string } };
};
type Profile = { profileId?: string; profileArn?: string; name?: string; enabled?: boolean; roleArns?: string[]; durationSeconds?: number };

/** Certificates compared by content, whatever the PEM line breaks. */
function bundleKey(pem: string): string {
  try {
    return parseCaBundle(pem)
      .map((c) => c.fingerprint256)
      .sort()
      .join(',');
  } catch {
    return '';
  }
}

function roleArnsFrom(opts: Options): string[] {
  const list = [opts.str('role-arn'), ...(opts.str('role-arns') ?? '').split(',')]
    .filter((r): r is string => r !== undefined && r.trim() !== '')
    .map((r) => r.trim());
  if (list.length === 0) throw new SidecarError('CONFIG_INVALID', 'missing --role-arn (or --role-arns): name the role(s) the profile allows');
  for (const r of list) {
    if (parseRoleArnParts(r) === undefined)
      throw new SidecarError('ARN_INVALID', `role ARN "${oneLine(r, 120)}" is malformed: expected arn:aws:iam::<account>:role/<name>`);
  }
  return [...new Set(list)];
}

/** A member the service always sends; its absence is a broken answer, not a missing resource. */
function present<T>(v: T | undefined, call: string): T {
  if (v === undefined) throw new SidecarError('RESPONSE_MALFORMED', `${call} answered without the resource it names`);
  return v;
}

async function all<T>(call: string, page: (nextToken?: string) => Promise<{ items?: T[]; nextToken?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  for (let i = 0; i < 100; i++) {
    let res;
    try {
      res = await page(token);
    } catch (e) {
      throw controlError(e, call);
    }
    out.push(...(res.items ?? []));
    token = res.nextToken;
    if (token === undefined) return out;
  }
  throw new SidecarError('SERVICE_ERROR', `${call} returned more than 100 pages`);
}

async function ensureAnchor(c: ControlClient, name: string, pem: string, say: (m: string) => Promise<void>): Promise<Anchor> {
  const { sdk, client } = c;
  const anchors = await all<Anchor>('ListTrustAnchors', async (nextToken) => {
    const r = await client.send(new sdk.ListTrustAnchorsCommand({ ...(nextToken !== undefined ? { nextToken } : {}) }));
    return { items: r.trustAnchors as Anchor[] | undefined, ...(r.nextToken !== undefined ? { nextToken: r.nextToken } : {}) };
  });
  const want = bundleKey(pem);
  const source = { sourceType: 'CERTIFICATE_BUNDLE' as const, sourceData: { x509CertificateData: pem } };
  let anchor =
    anchors.find((a) => a.name === name && bundleKey(a.source?.sourceData?.x509CertificateData ?? '') === want) ?? anchors.find((a) => a.name === name);
  try {
    if (anchor === undefined) {
      anchor = present((await client.send(new sdk.CreateTrustAnchorCommand({ name, enabled: true, source }))).trustAnchor, 'CreateTrustAnchor');
      await say(`created trust anchor ${anchor.trustAnchorArn}`);
      return anchor;
    }
    await say(`found trust anchor ${anchor.trustAnchorArn}`);
    if (bundleKey(anchor.source?.sourceData?.x509CertificateData ?? '') !== want) {
      anchor = present(
        (await client.send(new sdk.UpdateTrustAnchorCommand({ trustAnchorId: anchor.trustAnchorId!, source }))).trustAnchor,
        'UpdateTrustAnchor',
      );
      await say('updated its CA bundle to the one given');
    }
    if (anchor.enabled !== true) {
      anchor = present((await client.send(new sdk.EnableTrustAnchorCommand({ trustAnchorId: anchor.trustAnchorId! }))).trustAnchor, 'EnableTrustAnchor');
      await say('enabled it');
    }
    return anchor;
  } catch (e) {
    throw controlError(e, 'setting up the trust anchor');
  }
}

async function ensureProfile(c: ControlClient, name: string, roleArns: string[], say: (m: string) => Promise<void>): Promise<Profile> {
  const { sdk, client } = c;
  const profiles = await all<Profile>('ListProfiles', async (nextToken) => {
    const r = await client.send(new sdk.ListProfilesCommand({ ...(nextToken !== undefined ? { nextToken } : {}) }));
    return { items: r.profiles, ...(r.nextToken !== undefined ? { nextToken: r.nextToken } : {}) };
  });
  let profile = profiles.find((p) => p.name === name);
  try {
    if (profile === undefined) {
      profile = present((await client.send(new sdk.CreateProfileCommand({ name, enabled: true, roleArns }))).profile, 'CreateProfile');
      await say(`created profile ${profile.profileArn}`);
      return profile;
    }
    await say(`found profile ${profile.profileArn}`);
    const have = new Set(profile.roleArns ?? []);
    const missing = roleArns.filter((r) => !have.has(r));
    if (missing.length > 0) {
      profile = present(
        (await client.send(new sdk.UpdateProfileCommand({ profileId: profile.profileId!, roleArns: [...have, ...missing] }))).profile,
        'UpdateProfile',
      );
      await say(`added ${missing.length} role(s) to it`);
    }
    if (profile.enabled !== true) {
      profile = present((await client.send(new sdk.EnableProfileCommand({ profileId: profile.profileId! }))).profile, 'EnableProfile');
      await say('enabled it');
    }
    return profile;
  } catch (e) {
    throw controlError(e, 'setting up the profile');
  }
}

export async function setup(opts: Options, io: CliIo): Promise<number> {
  loggerFrom(opts, io, { command: 'setup' });
  const caPath = opts.required('trust-anchor-ca');
  const pem = (await readFileBounded(caPath, { maxBytes: MAX_CA_BUNDLE_BYTES })).toString('utf8');
  const roots = parseCaBundle(pem, caPath);
  const notCa = roots.find((r) => !r.ca);
  if (notCa !== undefined)
    throw new SidecarError(
      'CERT_INVALID',
      `${caPath} holds "${oneLine(notCa.subject.replace(/\n/g, ', '), 120)}", which is not a CA certificate: give the issuing CA's certificate`,
    );
  const bundle = roots.map((r) => r.toString()).join('');
  const roleArns = roleArnsFrom(opts);
  const name = opts.str('name') ?? 'rolesanywhere-sidecar';
  if (!/^[ a-zA-Z0-9_-]{1,255}$/.test(name))
    throw new SidecarError('CONFIG_INVALID', `${opts.origin('name')} "${oneLine(name, 60)}" must be 1 to 255 letters, digits, spaces, "_" or "-"`);
  const region = controlRegionFrom(opts, io);
  const say = (m: string): Promise<void> => writeOut(io.stderr, `rolesanywhere-sidecar setup: ${m}\n`);
  const c = await controlClientFrom(opts, region);
  try {
    const anchor = await ensureAnchor(c, name, bundle, say);
    const profile = await ensureProfile(c, name, roleArns, say);
    const lines: Array<[string, string]> = [
      ...(opts.has('endpoint') ? ([[envName('endpoint'), opts.str('endpoint')!.replace(/\/+$/, '')]] as Array<[string, string]>) : []),
      [envName('trust-anchor-arn'), anchor.trustAnchorArn!],
      [envName('profile-arn'), profile.profileArn!],
      [envName('role-arn'), roleArns[0]!],
    ];
    await writeOut(io.stdout, lines.map(([k, v]) => `export ${k}=${v}\n`).join(''));
    return 0;
  } finally {
    c.close();
  }
}
