/**
 * Child-process client: the AWS SDK for JavaScript v3, as an application uses it. The
 * providers read their configuration from this process's environment, which the test sets
 * to exactly what `serve` printed, so this is the same path a real workload takes.
 *
 * Usage: node js-v3-client.js <mode> <sts-endpoint> [<ca-path>]
 *   mode: imds (fromInstanceMetadata), container (fromContainerMetadata), http (fromHttp),
 *         chain (fromNodeProviderChain)
 * Prints one JSON line {arn, accessKeyId, expiration}; failures exit 1 with the error on stderr.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromContainerMetadata, fromHttp, fromInstanceMetadata, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';

function provider(mode: string): ReturnType<typeof fromNodeProviderChain> {
  switch (mode) {
    case 'imds':
      return fromInstanceMetadata({ timeout: 2000, maxRetries: 1 });
    case 'container':
      return fromContainerMetadata({ timeout: 2000, maxRetries: 1 });
    case 'http':
      return fromHttp({ timeout: 2000, maxRetries: 1 });
    case 'chain':
      return fromNodeProviderChain({ timeout: 2000, maxRetries: 1 });
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

async function main(): Promise<void> {
  const [mode = '', endpoint = '', caPath] = process.argv.slice(2);
  const requestHandler =
    caPath !== undefined && caPath !== '' ? new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(caPath, 'utf8') }) }) : undefined;
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint,
    credentials: provider(mode),
    ...(requestHandler !== undefined ? { requestHandler } : {}),
  });
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    // The client memoises what the provider returned: these are the credentials just used.
    const creds = await sts.config.credentials();
    process.stdout.write(`${JSON.stringify({ arn: out.Arn, accessKeyId: creds.accessKeyId, expiration: creds.expiration?.toISOString() })}\n`);
  } finally {
    sts.destroy();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`);
  process.exitCode = 1;
});
