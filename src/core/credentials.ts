/** Temporary AWS credentials as the sidecar holds them. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Expiry, milliseconds since the epoch. */
  readonly expiration: number;
  /** The IAM role the credentials are for, when known. */
  readonly roleArn?: string;
  /** 12-digit account, when known (served as AccountId to SDKs that read it). */
  readonly accountId?: string;
}

/** Anything that can produce fresh credentials (the CreateSession client, a cache in front of it). */
export interface CredentialSource {
  getCredentials(signal?: AbortSignal): Promise<Credentials>;
}

/** True when the credentials are non-empty and not expired at `now`. */
export function isUsable(c: Credentials | undefined, now: number): c is Credentials {
  return c !== undefined && c.accessKeyId.length > 0 && c.secretAccessKey.length > 0 && c.sessionToken.length > 0 && c.expiration > now;
}
