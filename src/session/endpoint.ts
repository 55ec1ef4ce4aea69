/**
 * Where CreateSession goes (pure): the partition table, FIPS and dual-stack host names,
 * an `--endpoint` override, and the region used for both the host and the credential
 * scope. Reference: docs/createsession.md "Endpoint".
 */
import { SidecarError, oneLine } from '../core/errors.js';
import { parseProfileArn, parseTrustAnchorArn } from './arn.js';

export interface PartitionInfo {
  readonly dnsSuffix: string;
  readonly dualStackDnsSuffix: string;
}

/*
 * DNS suffixes per partition, as in the AWS SDKs' partitions.json
 * (@aws-sdk/core util-endpoints/lib/aws/partitions.js), which every SDK resolves from.
 */
export const PARTITIONS: Readonly<Record<string, PartitionInfo>> = Object.freeze({
  aws: { dnsSuffix: 'amazonaws.com', dualStackDnsSuffix: 'api.aws' },
  'aws-cn': { dnsSuffix: 'amazonaws.com.cn', dualStackDnsSuffix: 'api.amazonwebservices.com.cn' },
  'aws-us-gov': { dnsSuffix: 'amazonaws.com', dualStackDnsSuffix: 'api.aws' },
  'aws-iso': { dnsSuffix: 'c2s.ic.gov', dualStackDnsSuffix: 'api.aws.ic.gov' },
  'aws-iso-b': { dnsSuffix: 'sc2s.sgov.gov', dualStackDnsSuffix: 'api.aws.scloud' },
  'aws-iso-e': { dnsSuffix: 'cloud.adc-e.uk', dualStackDnsSuffix: 'api.cloud-aws.adc-e.uk' },
  'aws-iso-f': { dnsSuffix: 'csp.hci.ic.gov', dualStackDnsSuffix: 'api.aws.hci.ic.gov' },
  'aws-eusc': { dnsSuffix: 'amazonaws.eu', dualStackDnsSuffix: 'api.amazonwebservices.eu' },
});

export interface EndpointInput {
  /** `--region`; when absent the trust anchor ARN's region is used. */
  readonly region?: string;
  /** `--endpoint`: an http(s) URL (a bare `host[:port]` means https). Overrides the host. */
  readonly endpoint?: string;
  readonly trustAnchorArn: string;
  readonly profileArn: string;
  readonly useFips: boolean;
  readonly useDualStack: boolean;
}

export interface ResolvedEndpoint {
  /** `https://host[:port]/`: the base the request path is resolved against. */
  readonly url: URL;
  /** Region of the host and of the SigV4 credential scope. */
  readonly region: string;
  /** Host header value: the host name plus `:port` when the port is not the scheme's default. */
  readonly host: string;
}

const MAX_ENDPOINT_LENGTH = 2048;
const REGION = /^[a-z]{2,8}(-[a-z0-9]+)+-\d{1,3}$/;

export function resolveEndpoint(input: EndpointInput): ResolvedEndpoint {
  const anchor = parseTrustAnchorArn(input.trustAnchorArn);
  const profile = parseProfileArn(input.profileArn);
  if (anchor.region !== profile.region) {
    throw new SidecarError(
      'REGION_MISMATCH',
      `the trust anchor is in ${anchor.region} but the profile is in ${profile.region}: use a trust anchor and profile from the same region`,
      { details: { trustAnchorRegion: anchor.region, profileRegion: profile.region } },
    );
  }
  let region = anchor.region;
  if (input.region !== undefined && input.region !== '') {
    if (!REGION.test(input.region)) {
      throw new SidecarError(
        'CONFIG_INVALID',
        `--region "${oneLine(input.region, 64)}" is not a region name: use a region such as us-east-1, or leave it out to use the trust anchor's region`,
      );
    }
    if (input.region !== anchor.region) {
      // The service only knows the trust anchor in its own region; signing for another one fails.
      throw new SidecarError(
        'REGION_MISMATCH',
        `--region ${input.region} differs from the trust anchor's region ${anchor.region}: remove --region or set it to ${anchor.region}`,
        { details: { region: input.region, trustAnchorRegion: anchor.region } },
      );
    }
    region = input.region;
  }

  if (input.endpoint !== undefined && input.endpoint !== '') {
    if (input.useFips || input.useDualStack) {
      throw new SidecarError(
        'CONFIG_INVALID',
        '--endpoint cannot be combined with FIPS or dual-stack endpoints (AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT): unset those, or put the FIPS/dual-stack host in --endpoint',
      );
    }
    const url = parseEndpointUrl(input.endpoint);
    return { url, region, host: url.host };
  }

  const partition = PARTITIONS[anchor.partition];
  if (partition === undefined) {
    throw new SidecarError(
      'ARN_INVALID',
      `the trust anchor's partition "${anchor.partition}" is unknown: use one of ${Object.keys(PARTITIONS).join(', ')}, or pass the host with --endpoint`,
    );
  }
  const service = input.useFips ? 'rolesanywhere-fips' : 'rolesanywhere';
  const suffix = input.useDualStack ? partition.dualStackDnsSuffix : partition.dnsSuffix;
  const url = new URL(`https://${service}.${region}.${suffix}/`);
  return { url, region, host: url.host };
}

/**
 * Parses `--endpoint`. The request path is always `/sessions` and is part of the signature,
 * so a path prefix, query or fragment cannot work and is refused here rather than failing
 * later as an invalid signature.
 */
export function parseEndpointUrl(value: string): URL {
  let shown = oneLine(value, 120);
  const fail = (why: string): SidecarError =>
    new SidecarError('CONFIG_INVALID', `--endpoint "${shown}" ${why}: use an http(s) URL such as https://rolesanywhere.us-east-1.amazonaws.com`);
  if (value.length > MAX_ENDPOINT_LENGTH) throw fail(`is longer than ${MAX_ENDPOINT_LENGTH} characters`);
  // As the AWS SDKs do, a bare host[:port] means https.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw fail('is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw fail(`uses the scheme ${url.protocol.replace(':', '')}`);
  if (url.hostname === '') throw fail('has no host');
  if (url.username !== '' || url.password !== '') {
    shown = `${url.protocol}//***@${url.host}`;
    throw fail('contains credentials');
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') throw fail('has a path, query or fragment');
  return new URL(`${url.protocol}//${url.host}/`);
}
