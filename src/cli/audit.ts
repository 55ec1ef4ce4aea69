/**
 * Wires the audit trail: each issuance becomes one `credentials issued` log line (at info,
 * whatever else is logged), a count in `credentials_issued_total{role,via}`, and a line in
 * `--audit-log FILE` when given.
 */
import type { CredentialSource, Credentials } from '../core/credentials.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Options } from '../config/parse.js';
import type { IssuanceInfo } from '../chain/source.js';
import type { AssumeRoleOptions } from '../chain/options.js';
import { AuditFile, auditRecord, type AuditRecord } from '../telemetry/audit.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface Auditor {
  /** Wraps `source` so each set of credentials it returns is audited. */
  wrap(source: CredentialSource, describe: () => { roleArn: string; chain?: AssumeRoleOptions; lastChained?: IssuanceInfo }): CredentialSource;
  close(): Promise<void>;
}

export async function createAuditor(opts: Options, clock: Clock, logger: Logger, roleName: string, metrics?: Metrics): Promise<Auditor> {
  const path = opts.str('audit-log');
  const file = path !== undefined && path !== '' ? await AuditFile.open(path) : undefined;
  let writes: Promise<void> = Promise.resolve();
  const emit = (r: AuditRecord): void => {
    logger.info('credentials issued', { ...r });
    metrics?.credentialsIssued.inc({ role: r.role, via: r.via });
    if (file !== undefined) {
      writes = writes.then(() => file.append(r)).catch((e: unknown) => logger.error('cannot append to the audit log', { path: file.path, error: e }));
    }
  };
  return {
    wrap: (source, describe) => ({
      getCredentials: async (signal?: AbortSignal): Promise<Credentials> => {
        const c = await source.getCredentials(signal);
        const d = describe();
        const info = d.lastChained;
        emit(
          auditRecord({
            role: roleName,
            credentials: c,
            nowMs: clock.now(),
            via: d.chain !== undefined ? 'AssumeRole' : 'CreateSession',
            roleArn: d.roleArn,
            ...(d.chain !== undefined
              ? {
                  sessionName: d.chain.sessionName,
                  externalId: d.chain.externalId !== undefined,
                  sessionPolicy: d.chain.policy !== undefined || d.chain.policyArns.length > 0,
                  tagKeys: d.chain.tags.map((t) => t.key),
                }
              : {}),
            ...(info?.assumedRoleArn !== undefined ? { assumedRoleArn: info.assumedRoleArn } : {}),
            ...(info?.sourceIdentity !== undefined ? { sourceIdentity: info.sourceIdentity } : {}),
            ...(info?.baseRoleArn !== undefined ? { baseRoleArn: info.baseRoleArn } : {}),
          }),
        );
        return c;
      },
    }),
    close: async () => {
      await writes;
      await file?.close();
    },
  };
}
