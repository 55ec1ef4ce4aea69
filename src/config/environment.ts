/**
 * The AWS SDK-standard environment variables the sidecar honours beside its own
 * `ROLESANYWHERE_<FLAG>` ones, read in one place (config/ is the only reader of the
 * environment): the names and meanings are the SDKs' own, see the AWS SDKs and Tools
 * reference guide's settings pages (e.g. "Dual-stack and FIPS endpoints", `AWS_CA_BUNDLE`,
 * the shared credentials file).
 */
import type { Env } from './parse.js';

export interface ProxyEnvironment {
  /** HTTPS_PROXY (or https_proxy). */
  readonly httpsProxy?: string;
  /** HTTP_PROXY (or http_proxy). */
  readonly httpProxy?: string;
  /** NO_PROXY (or no_proxy). */
  readonly noProxy?: string;
  /** Any of HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy is set (child SDKs may then proxy loopback). */
  readonly anySet: boolean;
}

export interface EnvironmentSettings {
  /** AWS_USE_FIPS_ENDPOINT. */
  readonly useFipsEndpoint: boolean;
  /** AWS_USE_DUALSTACK_ENDPOINT. */
  readonly useDualStackEndpoint: boolean;
  /** AWS_CA_BUNDLE, when set and not empty. */
  readonly caBundle?: string;
  readonly proxy: ProxyEnvironment;
  /** AWS_SHARED_CREDENTIALS_FILE, when set and not empty. */
  readonly sharedCredentialsFile?: string;
  /** ROLESANYWHERE_CONTAINER_TOKEN: a token for the container endpoint (no flag: `ps` would show it). */
  readonly containerToken?: string;
}

function flag(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes'].includes(v.trim().toLowerCase());
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

export function readEnvironment(env: Env): EnvironmentSettings {
  const caBundle = nonEmpty(env.AWS_CA_BUNDLE);
  const sharedCredentialsFile = nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE);
  const containerToken = nonEmpty(env.ROLESANYWHERE_CONTAINER_TOKEN);
  // The upper-case name wins, as in undici's EnvHttpProxyAgent and curl; an empty value is "none".
  const httpsProxy = nonEmpty(env.HTTPS_PROXY ?? env.https_proxy);
  const httpProxy = nonEmpty(env.HTTP_PROXY ?? env.http_proxy);
  const noProxy = nonEmpty(env.NO_PROXY ?? env.no_proxy);
  return Object.freeze({
    useFipsEndpoint: flag(env.AWS_USE_FIPS_ENDPOINT),
    useDualStackEndpoint: flag(env.AWS_USE_DUALSTACK_ENDPOINT),
    ...(caBundle === undefined ? {} : { caBundle }),
    proxy: Object.freeze({
      ...(httpsProxy === undefined ? {} : { httpsProxy }),
      ...(httpProxy === undefined ? {} : { httpProxy }),
      ...(noProxy === undefined ? {} : { noProxy }),
      anySet: ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => (env[k] ?? '') !== ''),
    }),
    ...(sharedCredentialsFile === undefined ? {} : { sharedCredentialsFile }),
    ...(containerToken === undefined ? {} : { containerToken }),
  });
}
