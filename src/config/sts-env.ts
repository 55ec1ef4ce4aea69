/**
 * The environment variables that place STS for role chaining, read here so that
 * src/chain stays pure: the SDKs' service-specific and global endpoint overrides
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html) and the
 * FIPS / dual-stack switches.
 */
import type { Env } from './parse.js';

export interface StsEnvironment {
  readonly endpointUrlSts?: string;
  readonly endpointUrl?: string;
  readonly useFips: boolean;
  readonly useDualStack: boolean;
}

function flag(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.trim().toLowerCase());
}

export function stsEnvironment(env: Env): StsEnvironment {
  // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS switches the endpoint overrides off, as in the SDKs.
  const ignore = flag(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS);
  const sts = env.AWS_ENDPOINT_URL_STS;
  const global = env.AWS_ENDPOINT_URL;
  return {
    ...(!ignore && sts !== undefined && sts !== '' ? { endpointUrlSts: sts } : {}),
    ...(!ignore && global !== undefined && global !== '' ? { endpointUrl: global } : {}),
    useFips: flag(env.AWS_USE_FIPS_ENDPOINT),
    useDualStack: flag(env.AWS_USE_DUALSTACK_ENDPOINT),
  };
}
