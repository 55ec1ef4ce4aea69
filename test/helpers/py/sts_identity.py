"""Resolves credentials with boto3's (botocore's) DEFAULT chain (the environment decides whether that is
IMDS or the container endpoint), then calls STS GetCallerIdentity on the given endpoint.

Usage: python3 sts_identity.py <sts-endpoint-url>
TLS trust for the endpoint comes from AWS_CA_BUNDLE, as in real use. Prints one JSON line:
{"arn", "accessKeyId", "method", "botocore"}; any failure exits non-zero with the error on stderr.
"""
import json
import sys

import boto3
import botocore


def main() -> int:
    endpoint = sys.argv[1]
    session = boto3.session.Session()
    creds = session.get_credentials()
    if creds is None:
        print('no credentials found by the default chain', file=sys.stderr)
        return 2
    frozen = creds.get_frozen_credentials()
    sts = session.client('sts', region_name='us-east-1', endpoint_url=endpoint)
    ident = sts.get_caller_identity()
    print(json.dumps({
        'arn': ident['Arn'],
        'accessKeyId': frozen.access_key,
        'method': getattr(creds, 'method', None),
        'botocore': botocore.__version__,
    }))
    return 0


if __name__ == '__main__':
    sys.exit(main())
