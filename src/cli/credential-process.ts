import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { Readable } from 'node:stream';
import { defaultCacheDir, DiskCachedSource } from '../cache/disk-cache.js';
import type { CredentialSource, Credentials } from '../core/credentials.js';
import { isUsable } from '../core/credentials.js';
import { SidecarError } from '../core/errors.js';
import type { Options } from '../config/parse.js';
import { isByteInput, readInput } from '../identity/input.js';
import { MAX_INPUT_BYTES } from '../identity/limits.js';
import { formatCredentialProcess } from '../sinks/credential-process.js';
import type { IssuanceInfo } from '../chain/source.js';
import { createAuditor } from './audit.js';
import { selectRole } from './roles.js';
import { buildChain, chainInputFromFlags, type Chain } from './chain.js';
import { endpointFrom, identityConfigFrom, identityLoader, loggerFrom, sessionFrom, sessionParamsFrom, type SessionSetup } from './context.js';
import { writeOut, type CliIo } from './io.js';

/**
 * `credential-process`: one set of credentials on stdout, reused from the private cache while fresh.
 *
 * SDKs run this at every process start, so a cache hit does only what answering needs:
 * option checks, reading the certificate's bytes (their hash selects the entry, so a
 * rotated certificate misses) and the entry itself. The key, the certificate parsers and
 * the HTTP client are loaded only on a miss (src/cli/context.ts imports them on demand).
 */
export async function credentialProcess(commandLine: Options, io: CliIo): Promise<number> {
  // --role-name picks a role of --config (its options laid over the command line).
  const role = await selectRole(commandLine);
  const opts = role.opts;
  // SDKs put credential_process's stderr into their own error message, so by default it is
  // the one final error line; per-attempt retry warnings would only repeat it. An explicit
  // --log-level, ROLESANYWHERE_LOG_LEVEL or --debug still shows them.
  const logger = loggerFrom(opts, io, { command: 'credential-process' }, 'error');
  const identityConfig = identityConfigFrom(opts, true, io);
  let session: SessionSetup | undefined;
  let chain: Chain | undefined;
  const chainInput = await chainInputFromFlags(opts);
  const auditor = await createAuditor(opts, io.clock, logger, role.name);
  const fetch = async (ioForIdentity: Pick<CliIo, 'clock' | 'env' | 'stdin'>, signal?: AbortSignal): Promise<Credentials> => {
    const identity = await identityLoader(identityConfig, ioForIdentity, logger)();
    const s = await sessionFrom(opts, io, logger, () => identity);
    session = s;
    let lastChained: IssuanceInfo | undefined;
    if (chainInput !== undefined) chain = await buildChain(chainInput, s, identity, io, logger, { onIssued: (_c, info) => (lastChained = info) });
    const c = chain;
    const audited = auditor.wrap(c?.source ?? s.client, () => ({
      roleArn: c?.options.roleArn ?? s.params.roleArn,
      ...(c !== undefined ? { chain: c.options } : {}),
      ...(lastChained !== undefined ? { lastChained } : {}),
    }));
    return audited.getCredentials(signal);
  };
  try {
    let creds: Credentials;
    if (opts.bool('no-cache')) {
      creds = await fetch(io);
    } else {
      const params = sessionParamsFrom(opts);
      const endpoint = endpointFrom(opts, params);
      const certSource = identityConfig.certificate;
      let cert: { data: Buffer };
      if (isByteInput(certSource)) {
        const flag = certSource.kind === 'env' ? '--certificate-env' : '--certificate';
        cert = await readInput(certSource, { maxBytes: MAX_INPUT_BYTES, env: io.env, stdin: io.stdin, flag });
      } else {
        // A certificate on a token is public: read it to key the cache, as a file would be.
        const { loadHardwareCertificate } = await import('../identity/hardware.js');
        cert = { data: (await loadHardwareCertificate(certSource, identityConfig.hardware ?? { cache: {} })).leaf.raw };
      }
      // Standard input can be read once: on a miss the identity loader reads the same bytes again from here.
      const ioForIdentity = certSource.kind === 'stdin' ? { ...io, stdin: Readable.from([cert.data]) } : io;
      const inner: CredentialSource = { getCredentials: (signal) => fetch(ioForIdentity, signal) };
      const cache = new DiskCachedSource({
        inner,
        dir: opts.str('cache-dir') ?? defaultCacheDir(io.env, io.homedir || homedir()),
        keyParts: [
          `certificate-input-sha256:${createHash('sha256').update(cert.data).digest('hex')}`,
          endpoint.url.href,
          params.trustAnchorArn,
          params.profileArn,
          params.roleArn,
          String(params.durationSeconds),
          params.roleSessionName ?? '',
          // Chained credentials are another role's: each chaining setup has its own entry.
          ...(chainInput !== undefined ? [`assume-role:${JSON.stringify({ ...chainInput.input, sts: chainInput.stsEndpointOverride ?? '' })}`] : []),
        ],
        clock: io.clock,
        random: io.random,
        timers: io.timers,
        logger,
      });
      creds = await cache.getCredentials();
    }
    if (!isUsable(creds, io.clock.now())) {
      throw new SidecarError('RESPONSE_MALFORMED', "the service returned credentials that are already expired: check this host's clock");
    }
    await writeOut(io.stdout, `${formatCredentialProcess(creds)}\n`);
    return 0;
  } finally {
    await session?.client.close();
    await chain?.close();
    await auditor.close();
  }
}
