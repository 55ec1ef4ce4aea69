/**
 * Where AssumeRole goes (pure), in the SDKs' order
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html): an explicit
 * `--sts-endpoint`, then AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, then the regional
 * endpoint `sts[-fips].<region>.<partition suffix>` (dual-stack: the partition's dual-stack
 * suffix). Regional, never the global `sts.amazonaws.com`: the SDKs default to regional
 * STS, and a regional endpoint keeps working when another region is impaired.
 */
import { SidecarError, oneLine } from '../core/errors.js';
import { PARTITIONS } from '../session/endpoint.js';

export interface StsEndpointInput {
  readonly region: string;
  readonly partition: string;
  readonly override?: string;
  readonly endpointUrlSts?: string;
  readonly endpointUrl?: string;
  readonly useFips: boolean;
  readonly useDualStack: boolean;
}

export interface StsEndpoint {
  readonly url: URL;
  readonly region: string;
  /** Which input chose it, for logs and errors. */
  readonly source: string;
}

function parseUrl(value: string, origin: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new SidecarError('CONFIG_INVALID', `${origin} "${oneLine(value, 100)}" is not a URL: use e.g. https://sts.us-east-1.amazonaws.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SidecarError('CONFIG_INVALID', `${origin} must be an http(s) URL, got ${url.protocol}`);
  if (value.length > 2048 || url.username !== '' || url.password !== '')
    throw new SidecarError('CONFIG_INVALID', `${origin} must be a plain URL without credentials, at most 2048 characters`);
  return url;
}

export function resolveStsEndpoint(input: StsEndpointInput): StsEndpoint {
  const explicit: Array<[string | undefined, string]> = [
    [input.override, '--sts-endpoint'],
    [input.endpointUrlSts, 'AWS_ENDPOINT_URL_STS'],
    [input.endpointUrl, 'AWS_ENDPOINT_URL'],
  ];
  for (const [value, origin] of explicit) {
    if (value !== undefined && value.trim() !== '') return { url: parseUrl(value.trim(), origin), region: input.region, source: origin };
  }
  const partition = PARTITIONS[input.partition];
  if (partition === undefined)
    throw new SidecarError('CONFIG_INVALID', `no STS endpoint is known for partition "${oneLine(input.partition, 40)}": pass --sts-endpoint`);
  const service = input.useFips ? 'sts-fips' : 'sts';
  const suffix = input.useDualStack ? partition.dualStackDnsSuffix : partition.dnsSuffix;
  return { url: new URL(`https://${service}.${input.region}.${suffix}/`), region: input.region, source: 'region' };
}
