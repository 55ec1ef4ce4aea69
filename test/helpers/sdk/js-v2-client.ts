/**
 * Child-process client: the AWS SDK for JavaScript v2 (`aws-sdk`), as an application uses it.
 * The environment is exactly what `serve` printed (see js-v3-client.ts).
 *
 * Usage: node js-v2-client.js <mode> <sts-endpoint> [<ca-path>]
 *   mode: ec2 (EC2MetadataCredentials), ecs (ECSCredentials), chain (the default
 *         CredentialProviderChain)
 * Prints one JSON line {arn, accessKeyId, expiration}; failures exit 1 with the error on stderr.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import AWS from 'aws-sdk';

async function credentials(mode: string): Promise<AWS.Credentials> {
  switch (mode) {
    case 'ec2': {
      const c = new AWS.EC2MetadataCredentials({ httpOptions: { timeout: 2000 }, maxRetries: 1 });
      await c.getPromise();
      return c;
    }
    case 'ecs': {
      const c = new AWS.ECSCredentials({ httpOptions: { timeout: 2000 }, maxRetries: 1 });
      await c.getPromise();
      return c;
    }
    case 'chain':
      return new AWS.CredentialProviderChain().resolvePromise();
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

async function main(): Promise<void> {
  const [mode = '', endpoint = '', caPath] = process.argv.slice(2);
  const creds = await credentials(mode);
  const sts = new AWS.STS({
    endpoint,
    region: 'us-east-1',
    credentials: creds,
    ...(caPath !== undefined && caPath !== '' ? { httpOptions: { agent: new Agent({ ca: readFileSync(caPath, 'utf8') }) } } : {}),
  });
  const out = await sts.getCallerIdentity().promise();
  process.stdout.write(`${JSON.stringify({ arn: out.Arn, accessKeyId: creds.accessKeyId, expiration: creds.expireTime?.toISOString() })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`);
  process.exitCode = 1;
});
