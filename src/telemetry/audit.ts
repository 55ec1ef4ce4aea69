/**
 * The audit trail of credential issuance: one record per set of credentials the sidecar
 * obtained (CreateSession, or AssumeRole when chaining), so the use of an elevated role is
 * visible in the log pipeline, in a metric per role, and, for hosts without a pipeline,
 * in an append-only file (`--audit-log`, 0600). A record names the role, the session, the
 * source identity, the expiry and the access key id (which CloudTrail shows too), never
 * the secret key or the session token.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Credentials } from '../core/credentials.js';
import { SidecarError, oneLine } from '../core/errors.js';

export interface AuditRecord {
  readonly event: 'credentials-issued';
  readonly time: string;
  /** The sidecar's name for the role (`--config` role name, or `default`). */
  readonly role: string;
  /** The role whose credentials are served. */
  readonly roleArn: string;
  readonly via: 'CreateSession' | 'AssumeRole';
  readonly accessKeyId: string;
  readonly expiration: string;
  readonly sessionName?: string;
  readonly assumedRoleArn?: string;
  readonly sourceIdentity?: string;
  /** When chaining: the Roles Anywhere role whose session assumed this one. */
  readonly baseRoleArn?: string;
  readonly externalId?: boolean;
  readonly sessionPolicy?: boolean;
  readonly tags?: readonly string[];
}

export interface AuditInput {
  readonly role: string;
  readonly credentials: Credentials;
  readonly nowMs: number;
  readonly via: AuditRecord['via'];
  readonly roleArn: string;
  readonly sessionName?: string;
  readonly assumedRoleArn?: string;
  readonly sourceIdentity?: string;
  readonly baseRoleArn?: string;
  readonly externalId?: boolean;
  readonly sessionPolicy?: boolean;
  readonly tagKeys?: readonly string[];
}

/** Builds the record (pure). Only the access key id of the credentials is read. */
export function auditRecord(i: AuditInput): AuditRecord {
  return {
    event: 'credentials-issued',
    time: new Date(i.nowMs).toISOString(),
    role: i.role,
    roleArn: i.roleArn,
    via: i.via,
    accessKeyId: i.credentials.accessKeyId,
    expiration: new Date(i.credentials.expiration).toISOString(),
    ...(i.sessionName !== undefined ? { sessionName: i.sessionName } : {}),
    ...(i.assumedRoleArn !== undefined ? { assumedRoleArn: i.assumedRoleArn } : {}),
    ...(i.sourceIdentity !== undefined ? { sourceIdentity: i.sourceIdentity } : {}),
    ...(i.baseRoleArn !== undefined ? { baseRoleArn: i.baseRoleArn } : {}),
    ...(i.externalId !== undefined ? { externalId: i.externalId } : {}),
    ...(i.sessionPolicy !== undefined ? { sessionPolicy: i.sessionPolicy } : {}),
    ...(i.tagKeys !== undefined && i.tagKeys.length > 0 ? { tags: [...i.tagKeys] } : {}),
  };
}

/** Appends JSON lines to a file opened once with O_APPEND, created 0600 and kept 0600. */
export class AuditFile {
  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<AuditFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'a', 0o600);
    } catch (e) {
      throw new SidecarError(
        'FILE_UNWRITABLE',
        `cannot open the audit log ${oneLine(path, 200)} for appending (${(e as NodeJS.ErrnoException).code ?? 'error'}): fix the path or its directory's permissions`,
        { cause: e },
      );
    }
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new SidecarError('FILE_UNWRITABLE', `the audit log ${oneLine(path, 200)} is not a regular file`);
    }
    // An existing file keeps its contents but not a wider mode: the records name sessions.
    if ((st.mode & 0o077) !== 0) await handle.chmod(0o600);
    return new AuditFile(handle, path);
  }

  /** One line per record; O_APPEND makes each write land whole at the end. */
  async append(r: AuditRecord): Promise<void> {
    await this.handle.write(`${JSON.stringify(r)}\n`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
