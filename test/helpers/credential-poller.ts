/**
 * Clients polling the IMDS and container endpoints continuously, checking EVERY answer
 * against the serving rules:
 *  - a 200 carries non-empty AccessKeyId/SecretAccessKey/Token and an Expiration after the
 *    moment the answer arrived (IMDS also `Code: Success`);
 *  - a 503 carries a JSON body with a code, and only once the credentials last seen can no
 *    longer be served (the sidecar stops serving 5 s before expiry): a 503 while the
 *    sidecar still held valid credentials is a violation;
 *  - anything else (other statuses, connection errors) is a violation.
 */
import { containerCredentials, imdsCredentials, imdsToken, type HttpAnswer } from './serve-fixture.js';

export interface PollRecord {
  readonly at: number;
  readonly endpoint: 'imds' | 'container';
  readonly status: number;
  readonly accessKeyId?: string;
  readonly expiration?: number;
}

/** The sidecar's serve margin (refresh/schedule.ts SERVE_SKEW_MS) plus 1 s for the whole-second Expiration and scheduling. */
const MAY_STOP_SERVING_BEFORE_EXPIRY_MS = 5_000 + 1_000;

export class CredentialPoller {
  readonly records: PollRecord[] = [];
  readonly violations: string[] = [];
  /** Every distinct secret seen in a 200 answer (for the secrets-in-logs check). */
  readonly secrets = new Set<string>();
  /** Every IMDS session token this poller was given (also secrets). */
  readonly imdsTokens = new Set<string>();
  private latestExpiration = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private imdsTok: string | undefined;

  constructor(
    private readonly imds: URL,
    private readonly container: URL,
    private readonly containerToken: string,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await Promise.all([this.pollImds(), this.pollContainer()]);
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  count(pred: (r: PollRecord) => boolean): number {
    return this.records.filter(pred).length;
  }

  /** The newest Expiration seen in a 200 answer (epoch ms), 0 if none. */
  get newestExpiration(): number {
    return this.latestExpiration;
  }

  private async pollImds(): Promise<void> {
    try {
      if (this.imdsTok === undefined) {
        this.imdsTok = await imdsToken(this.imds);
        this.imdsTokens.add(this.imdsTok);
      }
      let a = await imdsCredentials(this.imds, this.imdsTok);
      if (a.status === 401) {
        // The token protocol's "fetch a new token": what every SDK does.
        this.imdsTok = await imdsToken(this.imds);
        this.imdsTokens.add(this.imdsTok);
        a = await imdsCredentials(this.imds, this.imdsTok);
      }
      this.check('imds', a);
    } catch (e) {
      this.violations.push(`imds: request failed: ${(e as Error).message}`);
    }
  }

  private async pollContainer(): Promise<void> {
    try {
      this.check('container', await containerCredentials(this.container, this.containerToken));
    } catch (e) {
      this.violations.push(`container: request failed: ${(e as Error).message}`);
    }
  }

  private check(endpoint: 'imds' | 'container', a: HttpAnswer): void {
    const now = Date.now();
    const at = new Date(now).toISOString();
    if (a.status === 200) {
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(a.body) as Record<string, unknown>;
      } catch {
        this.violations.push(`${endpoint} ${at}: 200 with a non-JSON body`);
        return;
      }
      for (const k of ['AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration']) {
        if (typeof doc[k] !== 'string' || doc[k] === '') this.violations.push(`${endpoint} ${at}: 200 with empty or missing ${k}`);
      }
      if (endpoint === 'imds' && doc.Code !== 'Success') this.violations.push(`imds ${at}: 200 with Code ${String(doc.Code)}`);
      const exp = Date.parse(String(doc.Expiration));
      if (!Number.isFinite(exp) || exp <= now) this.violations.push(`${endpoint} ${at}: 200 with expired credentials (Expiration ${String(doc.Expiration)})`);
      if (Number.isFinite(exp)) this.latestExpiration = Math.max(this.latestExpiration, exp);
      for (const k of ['SecretAccessKey', 'Token']) if (typeof doc[k] === 'string' && doc[k] !== '') this.secrets.add(doc[k]);
      this.records.push({ at: now, endpoint, status: 200, accessKeyId: String(doc.AccessKeyId), expiration: exp });
      return;
    }
    if (a.status === 503) {
      let code: unknown;
      try {
        const doc = JSON.parse(a.body) as Record<string, unknown>;
        code = doc.Code ?? doc.code;
      } catch {
        code = undefined;
      }
      if (typeof code !== 'string' || code === '') this.violations.push(`${endpoint} ${at}: 503 without a JSON body naming a code: ${a.body.slice(0, 200)}`);
      if (now < this.latestExpiration - MAY_STOP_SERVING_BEFORE_EXPIRY_MS) {
        this.violations.push(`${endpoint} ${at}: 503 while credentials expiring ${new Date(this.latestExpiration).toISOString()} were still servable`);
      }
      this.records.push({ at: now, endpoint, status: 503 });
      return;
    }
    this.violations.push(`${endpoint} ${at}: unexpected status ${a.status}: ${a.body.slice(0, 200)}`);
    this.records.push({ at: now, endpoint, status: a.status });
  }
}
