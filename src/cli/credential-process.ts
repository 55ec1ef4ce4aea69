import { homedir } from 'node:os';
import { defaultCacheDir, DiskCachedSource } from '../cache/disk-cache.js';
import type { CredentialSource } from '../core/credentials.js';
import { isUsable } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import { formatCredentialProcess } from '../sinks/credential-process.js';
import { identityConfigFrom, identityLoader, loggerFrom, sessionFrom } from './context.js';
import { writeOut, type CliIo } from './io.js';

/** `credential-process`: one set of credentials on stdout, reused from the private cache while fresh. */
export async function credentialProcess(opts: Options, io: CliIo): Promise<number> {
  // SDKs put credential_process's stderr into their own error message, so by default it is
  // the one final error line; per-attempt retry warnings would only repeat it. An explicit
  // --log-level, ROLESANYWHERE_LOG_LEVEL or --debug still shows them.
  const logger = loggerFrom(opts, io, { command: 'credential-process' }, 'error');
  const identity = await identityLoader(identityConfigFrom(opts), io, logger)();
  const session = await sessionFrom(opts, io, logger, () => identity);
  try {
    let source: CredentialSource = session.client;
    if (!opts.bool('no-cache')) {
      source = new DiskCachedSource({
        inner: session.client,
        dir: opts.str('cache-dir') ?? defaultCacheDir(io.env, io.homedir || homedir()),
        keyParts: [
          identity.fingerprint,
          session.endpointUrl.href,
          session.params.trustAnchorArn,
          session.params.profileArn,
          session.params.roleArn,
          String(session.params.durationSeconds),
          session.params.roleSessionName ?? '',
        ],
        clock: io.clock,
        random: io.random,
        logger,
      });
    }
    const creds = await source.getCredentials();
    if (!isUsable(creds, io.clock.now())) {
      throw new SidecarError('RESPONSE_MALFORMED', 'the service returned credentials that are already expired: check this host\'s clock');
    }
    await writeOut(io.stdout, `${formatCredentialProcess(creds)}\n`);
    return 0;
  } finally {
    await session.client.close();
  }
}
