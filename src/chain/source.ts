/**
 * Role chaining as a credential source that decorates another one (the CreateSession
 * client): the base role's credentials go only to STS AssumeRole, and what this source
 * returns, and so what the refresher holds and every endpoint serves, is always the chained
 * role's. A failed AssumeRole is an error, never the base credentials: those carry other
 * permissions than the ones the workload was configured for.
 */
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { CredentialSource, Credentials } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import type { AssumeRoleOptions } from './options.js';

/** Calls STS AssumeRole signed with `base` (the STS client lives behind this, in sts-client.ts). */
export type AssumeRoleCall = (base: Credentials, options: AssumeRoleOptions, signal?: AbortSignal) => Promise<ChainedResult>;

export interface ChainedResult {
  readonly credentials: Credentials;
  readonly assumedRoleArn?: string;
  readonly sourceIdentity?: string;
}

export interface IssuanceInfo {
  readonly assumedRoleArn?: string;
  readonly sourceIdentity?: string;
  readonly sessionName: string;
  readonly baseRoleArn?: string;
}

export interface AssumeRoleSourceOptions {
  readonly base: CredentialSource;
  readonly options: AssumeRoleOptions;
  readonly assume: AssumeRoleCall;
  readonly clock?: Clock;
  /** Called with each chained issuance (audit). */
  onIssued?(c: Credentials, info: IssuanceInfo): void;
}

/*
 * The base credentials are reused for the next AssumeRole while they have this much life
 * left: a chained refresh then costs one STS call, not a CreateSession as well. Five
 * minutes covers the request, its retries and the STS clock skew allowance.
 */
export const BASE_REUSE_MARGIN_MS = 5 * 60_000;

export class AssumeRoleSource implements CredentialSource {
  private base: Credentials | undefined;
  private readonly clock: Clock;

  constructor(private readonly opts: AssumeRoleSourceOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  get options(): AssumeRoleOptions {
    return this.opts.options;
  }

  async getCredentials(signal?: AbortSignal): Promise<Credentials> {
    let base = await this.baseCredentials(signal);
    let result: ChainedResult;
    try {
      result = await this.opts.assume(base, this.opts.options, signal);
    } catch (e) {
      // STS no longer takes the base session (expired or revoked early): once more with a fresh one.
      if (!(e instanceof SidecarError) || e.details.baseRejected !== true) throw e;
      this.base = undefined;
      base = await this.baseCredentials(signal);
      result = await this.opts.assume(base, this.opts.options, signal);
    }
    this.opts.onIssued?.(result.credentials, {
      sessionName: this.opts.options.sessionName,
      ...(result.assumedRoleArn !== undefined ? { assumedRoleArn: result.assumedRoleArn } : {}),
      ...(result.sourceIdentity !== undefined ? { sourceIdentity: result.sourceIdentity } : {}),
      ...(base.roleArn !== undefined ? { baseRoleArn: base.roleArn } : {}),
    });
    return result.credentials;
  }

  private async baseCredentials(signal?: AbortSignal): Promise<Credentials> {
    const held = this.base;
    if (held !== undefined && held.expiration - this.clock.now() > BASE_REUSE_MARGIN_MS) return held;
    this.base = await this.opts.base.getCredentials(signal);
    return this.base;
  }
}
