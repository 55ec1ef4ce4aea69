/**
 * ARN parsing for the three ARNs CreateSession takes (pure). The service validates them
 * again; checking here turns a typo into a one-line error at start-up instead of a 400
 * from the service on every refresh.
 */
import { SidecarError, oneLine } from '../core/errors.js';

export interface Arn {
  readonly partition: string;
  readonly service: string;
  /** Empty for global services (IAM). */
  readonly region: string;
  /** Empty for resources without an account (none of the ARNs used here). */
  readonly accountId: string;
  /** Everything after the fifth colon, e.g. `trust-anchor/<uuid>` or `role/path/name`. */
  readonly resource: string;
}

/** IAM documents 2048 characters as the maximum ARN length. */
export const MAX_ARN_LENGTH = 2048;

const PARTITION = /^aws(-[a-z]+)*$/;
const SERVICE = /^[a-z0-9-]{1,64}$/;
// us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1, eu-isoe-west-1, eusc-de-east-1.
const REGION = /^[a-z]{2,8}(-[a-z0-9]+)+-\d{1,3}$/;
const ACCOUNT = /^\d{12}$/;
/*
 * Real trust anchor and profile ids are UUIDs; the check is looser (letters, digits, '-')
 * so emulators and future id formats still pass, while spaces, slashes and empty ids fail.
 */
const RESOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;
// IAM: role names are [\w+=,.@-]{1,64}; a path is '/'-separated printable ASCII, max 512.
const ROLE_RESOURCE = /^role\/(?:[\x21-\x7e]{0,511}\/)?[\w+=,.@-]{1,64}$/;

const EXAMPLES = {
  generic: 'arn:<partition>:<service>:<region>:<account-id>:<resource>',
  trustAnchor: 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/<uuid>',
  profile: 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/<uuid>',
  role: 'arn:aws:iam::123456789012:role/<path/name>',
};

function invalid(flag: string, value: string, what: string, expected: string): SidecarError {
  // ARNs are not secret, but the value is bounded so a pasted file cannot flood the log.
  const shown = oneLine(value, 120);
  return new SidecarError('ARN_INVALID', `${flag} "${shown}" is not a valid ${what}: expected ${expected}`, {
    details: { flag },
  });
}

/** Splits an ARN into its six fields. Throws ARN_INVALID naming `flag`. */
export function parseArn(value: string, flag: string): Arn {
  return parseWith(value, flag, 'ARN', EXAMPLES.generic);
}

function parseWith(value: string, flag: string, what: string, expected: string): Arn {
  if (typeof value !== 'string' || value.length === 0) {
    throw new SidecarError('ARN_INVALID', `${flag} is empty: expected ${expected}`, { details: { flag } });
  }
  if (value.length > MAX_ARN_LENGTH) {
    throw new SidecarError('ARN_INVALID', `${flag} is ${value.length} characters long, more than the ${MAX_ARN_LENGTH} an ARN may have: expected ${expected}`, {
      details: { flag },
    });
  }
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') throw invalid(flag, value, what, expected);
  const [, partition = '', service = '', region = '', accountId = ''] = parts;
  const resource = parts.slice(5).join(':');
  if (!PARTITION.test(partition) || !SERVICE.test(service) || resource.length === 0) {
    throw invalid(flag, value, what, expected);
  }
  if (region !== '' && !REGION.test(region)) throw invalid(flag, value, what, expected);
  if (accountId !== '' && !ACCOUNT.test(accountId)) throw invalid(flag, value, what, expected);
  return { partition, service, region, accountId, resource };
}

function parseRolesAnywhere(value: string, flag: string, kind: 'trust-anchor' | 'profile'): Arn {
  const what = kind === 'trust-anchor' ? 'trust anchor ARN' : 'profile ARN';
  const expected = kind === 'trust-anchor' ? EXAMPLES.trustAnchor : EXAMPLES.profile;
  const arn = parseWith(value, flag, what, expected);
  const slash = arn.resource.indexOf('/');
  const type = slash < 0 ? arn.resource : arn.resource.slice(0, slash);
  const id = slash < 0 ? '' : arn.resource.slice(slash + 1);
  if (arn.service !== 'rolesanywhere' || arn.region === '' || arn.accountId === '' || type !== kind || !RESOURCE_ID.test(id)) {
    throw invalid(flag, value, what, expected);
  }
  return arn;
}

export function parseTrustAnchorArn(value: string, flag = '--trust-anchor-arn'): Arn {
  return parseRolesAnywhere(value, flag, 'trust-anchor');
}

export function parseProfileArn(value: string, flag = '--profile-arn'): Arn {
  return parseRolesAnywhere(value, flag, 'profile');
}

/** `arn:<partition>:iam::<12 digits>:role/<path/name>`; IAM is global, so no region. */
export function parseRoleArn(value: string, flag = '--role-arn'): Arn {
  const arn = parseWith(value, flag, 'IAM role ARN', EXAMPLES.role);
  if (arn.service !== 'iam' || arn.region !== '' || arn.accountId === '' || !ROLE_RESOURCE.test(arn.resource)) {
    throw invalid(flag, value, 'IAM role ARN', EXAMPLES.role);
  }
  return arn;
}

/** The 12-digit account of an IAM role ARN, or undefined when it is not one. Never throws. */
export function accountIdOfRoleArn(roleArn: string): string | undefined {
  const m = /^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role\//.exec(roleArn);
  return m?.[1];
}
