#!/usr/bin/env python3
"""An independent, strict IAM Roles Anywhere CreateSession verifier for tests.

Written from docs/createsession.md alone, in another language and with another
crypto stack (the `openssl` command line) than the sidecar, so a bug shared by the
sidecar's signer and its own emulator cannot make both agree. It serves only
`POST /sessions`: it rebuilds the canonical request from the bytes it received, checks the
credential scope, the signing time, the certificate chain (`openssl verify -x509_strict`)
and the signature (`openssl dgst -sha256 -verify`), and answers like the service: 201 with
a credential set, or 403 AccessDeniedException / 400 ValidationException with a message
that says why. Python 3 standard library only.

Usage:
  verifier.py --trust-anchor ROOTS.pem --region us-east-1 \
      --trust-anchor-arn ARN --profile-arn ARN --role-arn ARN \
      [--tls-cert CERT.pem --tls-key KEY.pem] [--now 20240706T143004Z] [--max-duration 3600]
      [--exit-on-stdin-eof]

At start it prints one JSON line on stdout: {"port": <port>, "scheme": "http"|"https"}.
GET /__verifier/log returns what it decided for every request so far (no secrets).
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import urllib.parse

SERVICE = "rolesanywhere"
TERMINATOR = "aws4_request"
MAX_BODY = 64 * 1024
MAX_SKEW_SECONDS = 300
ALGORITHMS = {
    "AWS4-X509-RSA-SHA256": "RSA",
    "AWS4-X509-ECDSA-SHA256": "EC",
    # ML-DSA is in the spec, but the openssl 3.0 CLI cannot verify it; refused explicitly.
    "AWS4-X509-MLDSA": "ML-DSA",
}
AMZ_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
AUTH = re.compile(
    r"^(?P<alg>[A-Z0-9-]+) Credential=(?P<cred>[^,\s]+),\s?SignedHeaders=(?P<signed>[^,\s]+),\s?Signature=(?P<sig>[0-9a-f]+)$"
)
ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z]+):(?P<region>[a-z0-9-]*):(?P<account>\d{12}):(?P<resource>.+)$")
B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
PCT_OK = re.compile(r"^(?:[^%]|%[0-9A-Fa-f]{2})*$")
UNRESERVED = "-_.~"


class Reject(Exception):
    def __init__(self, status, error_type, message):
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def denied(msg):
    return Reject(403, "AccessDeniedException", msg)


def invalid(msg):
    return Reject(400, "ValidationException", msg)


def parse_amz_date(value):
    m = AMZ_DATE.match(value)
    if not m:
        return None
    try:
        return datetime.datetime(*[int(x) for x in m.groups()], tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def rfc3986(s):
    return urllib.parse.quote(s, safe=UNRESERVED)


def canonical_query(raw):
    """Decoded pairs re-encoded with RFC 3986 rules, sorted by key then value."""
    pairs = []
    if raw == "":
        return "", []
    for piece in raw.split("&"):
        if piece == "":
            continue
        k, sep, v = piece.partition("=")
        if not PCT_OK.match(k) or not PCT_OK.match(v):
            raise invalid("query parameter %r is not valid percent-encoding" % k[:40])
        # '+' is a literal plus in SigV4 (clients encode a space as %20), so unquote, not unquote_plus.
        try:
            dk = urllib.parse.unquote(k, errors="strict")
            dv = urllib.parse.unquote(v, errors="strict")
        except UnicodeDecodeError:
            raise invalid("query parameter %r does not decode to UTF-8" % k[:40])
        pairs.append((dk, dv))
    encoded = sorted((rfc3986(k), rfc3986(v)) for k, v in pairs)
    return "&".join("%s=%s" % kv for kv in encoded), pairs


def canonical_header_value(values):
    return ",".join(re.sub(r" +", " ", v.strip()) for v in values)


def parse_arn(value, service, resource_prefix):
    m = ARN.match(value)
    if not m or m.group("service") != service or not m.group("resource").startswith(resource_prefix):
        return None
    return m


def run(cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)


class Verifier:
    def __init__(self, args):
        self.roots = args.trust_anchor
        self.region = args.region
        self.trust_anchor_arn = args.trust_anchor_arn
        self.profile_arn = args.profile_arn
        self.role_arn = args.role_arn
        self.max_duration = args.max_duration
        self.fixed_now = None
        if args.now:
            self.fixed_now = parse_amz_date(args.now)
            if self.fixed_now is None:
                raise SystemExit("--now must look like 20240706T143004Z")
        self.log = []
        self.lock = threading.Lock()
        ta = parse_arn(self.trust_anchor_arn, SERVICE, "trust-anchor/")
        if ta is None or ta.group("region") != self.region:
            raise SystemExit("--trust-anchor-arn must be a trust anchor ARN in --region")

    def now(self):
        return self.fixed_now or datetime.datetime.now(datetime.timezone.utc)

    def record(self, entry):
        with self.lock:
            self.log.append(entry)
            if len(self.log) > 10000:
                del self.log[0]

    def verify(self, method, target, header_pairs, body):
        """Returns a record of what was verified, or raises Reject."""
        path, _, raw_query = target.partition("?")
        if path != "/sessions" or method != "POST":
            raise Reject(404, "UnknownOperationException", "CreateSession is POST /sessions")

        headers = {}
        for name, value in header_pairs:
            headers.setdefault(name.lower(), []).append(value)
        for single in ("authorization", "host", "content-type", "x-amz-date", "x-amz-x509", "x-amz-x509-chain"):
            if len(headers.get(single, [])) > 1:
                raise invalid("header %s is repeated" % single)

        def header(name):
            v = headers.get(name)
            return v[0] if v else None

        # ---- input (400) ----
        canon_query, pairs = canonical_query(raw_query)
        doc = {}
        if body:
            try:
                doc = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise invalid("the request body is not valid JSON")
            if not isinstance(doc, dict):
                raise invalid("the request body must be a JSON object")
        if (header("content-type") or "").split(";")[0].strip().lower() != "application/json":
            raise invalid("Content-Type must be application/json, got %r" % (header("content-type") or "")[:60])
        arns = {}
        for name in ("profileArn", "roleArn", "trustAnchorArn"):
            in_query = [v for k, v in pairs if k == name]
            if len(in_query) > 1:
                raise invalid("query parameter %s is repeated" % name)
            in_body = doc.get(name)
            if in_body is not None and not isinstance(in_body, str):
                raise invalid("%s in the body must be a string" % name)
            if in_query and in_body is not None and in_query[0] != in_body:
                raise invalid("%s differs between the query and the body" % name)
            value = in_query[0] if in_query else in_body
            if not value:
                raise invalid("%s is missing" % name)
            arns[name] = value
        if parse_arn(arns["trustAnchorArn"], SERVICE, "trust-anchor/") is None:
            raise invalid("trustAnchorArn %r is not a trust anchor ARN" % arns["trustAnchorArn"][:120])
        if parse_arn(arns["profileArn"], SERVICE, "profile/") is None:
            raise invalid("profileArn %r is not a profile ARN" % arns["profileArn"][:120])
        if parse_arn(arns["roleArn"], "iam", "role/") is None:
            raise invalid("roleArn %r is not an IAM role ARN" % arns["roleArn"][:120])
        duration = doc.get("durationSeconds", 3600)
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise invalid("durationSeconds must be a whole number")
        if duration < 900 or duration > 43200:
            raise invalid("durationSeconds %d is out of range 900..43200" % duration)
        if duration > self.max_duration:
            raise invalid("durationSeconds %d exceeds the profile maximum %d" % (duration, self.max_duration))

        # ---- authentication (403) ----
        auth = header("authorization")
        if auth is None:
            raise denied("missing Authorization header")
        m = AUTH.match(auth.strip())
        if not m:
            raise denied("malformed Authorization header")
        algorithm = m.group("alg")
        if algorithm not in ALGORITHMS:
            raise denied("unknown signing algorithm %r" % algorithm[:40])
        if ALGORITHMS[algorithm] == "ML-DSA":
            raise denied("AWS4-X509-MLDSA cannot be verified by this verifier (openssl CLI without ML-DSA)")
        cred = m.group("cred").split("/")
        if len(cred) != 5:
            raise denied("Credential must be <serial>/<date>/<region>/rolesanywhere/aws4_request")
        serial, scope_date, scope_region, scope_service, terminator = cred
        amz_date = header("x-amz-date")
        if amz_date is None:
            raise denied("missing X-Amz-Date header")
        signed_at = parse_amz_date(amz_date.strip())
        if signed_at is None:
            raise denied("X-Amz-Date %r is not YYYYMMDDTHHMMSSZ" % amz_date[:40])
        skew = abs((self.now() - signed_at).total_seconds())
        if skew > MAX_SKEW_SECONDS:
            raise denied("signature expired: X-Amz-Date %s is %d s away from the server time" % (amz_date, skew))
        if scope_date != amz_date[:8]:
            raise denied("credential scope date %s does not match X-Amz-Date %s" % (scope_date, amz_date))
        if scope_region != self.region:
            raise denied("credential scope region %r is not %s" % (scope_region[:40], self.region))
        if scope_service != SERVICE:
            raise denied("credential scope service %r is not %s" % (scope_service[:40], SERVICE))
        if terminator != TERMINATOR:
            raise denied("credential scope terminator must be aws4_request")
        if not re.match(r"^(0|[1-9][0-9]*)$", serial):
            raise denied("credential serial %r is not a decimal number" % serial[:80])

        signed = m.group("signed").split(";")
        if signed != sorted(set(signed)) or any(s != s.lower() or s == "" for s in signed):
            raise denied("SignedHeaders must be lower-case, unique and sorted")
        chain_header = header("x-amz-x509-chain")
        must_sign = ["host", "x-amz-date", "x-amz-x509"] + (["x-amz-x509-chain"] if chain_header is not None else [])
        for name in must_sign:
            if name not in signed:
                raise denied("SignedHeaders does not include %s" % name)
        if "authorization" in signed:
            raise denied("SignedHeaders must not include authorization")
        for name in signed:
            if name not in headers:
                raise denied("signed header %s is not in the request" % name)

        canonical = "\n".join(
            [
                method,
                path,
                canon_query,
                "".join("%s:%s\n" % (n, canonical_header_value(headers[n])) for n in signed),
                ";".join(signed),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = "%s/%s/%s/%s" % (amz_date[:8], self.region, SERVICE, TERMINATOR)
        string_to_sign = "\n".join([algorithm, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])

        tmp = tempfile.mkdtemp(prefix="ra-verifier-")
        try:
            leaf_pem = self.der_header_to_pem(header("x-amz-x509"), os.path.join(tmp, "leaf.pem"), "X-Amz-X509")
            intermediates = []
            if chain_header is not None:
                for i, part in enumerate(chain_header.split(",")):
                    intermediates.append(self.der_header_to_pem(part, os.path.join(tmp, "int%d.pem" % i), "X-Amz-X509-Chain entry #%d" % (i + 1)))
                if len(intermediates) > 5:
                    raise denied("X-Amz-X509-Chain holds more than 5 certificates")

            out = run(["openssl", "x509", "-in", leaf_pem, "-noout", "-serial", "-text"])
            text = out.stdout.decode("utf-8", "replace")
            sm = re.match(r"^serial=([0-9A-Fa-f]+)\n", text)
            if out.returncode != 0 or not sm:
                raise denied("cannot read the leaf serial number")
            leaf_serial = str(int(sm.group(1), 16))
            if serial != leaf_serial:
                raise denied("credential serial %s is not the leaf serial %s" % (serial, leaf_serial))

            if re.search(r"X509v3 Basic Constraints:[^\n]*\n\s*CA:TRUE", text):
                raise denied("the signing certificate is a CA certificate")
            key_alg = re.search(r"Public Key Algorithm: (\S+)", text)
            kind = {"rsaEncryption": "RSA", "id-ecPublicKey": "EC"}.get(key_alg.group(1) if key_alg else "")
            if kind != ALGORITHMS[algorithm]:
                raise denied("algorithm %s does not match the certificate key (%s)" % (algorithm, key_alg.group(1) if key_alg else "unknown"))

            pub = os.path.join(tmp, "pub.pem")
            out = run(["openssl", "x509", "-in", leaf_pem, "-noout", "-pubkey", "-out", pub])
            if out.returncode != 0:
                raise denied("cannot read the leaf public key")
            sig_path = os.path.join(tmp, "sig.bin")
            data_path = os.path.join(tmp, "sts.txt")
            with open(sig_path, "wb") as f:
                f.write(bytes.fromhex(m.group("sig")))
            with open(data_path, "wb") as f:
                f.write(string_to_sign.encode("utf-8"))
            out = run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig_path, data_path])
            if out.returncode != 0:
                raise denied("invalid signature; string to sign was %s" % string_to_sign.replace("\n", "|"))

            cmd = ["openssl", "verify", "-CAfile", self.roots, "-x509_strict"]
            if intermediates:
                bundle = os.path.join(tmp, "untrusted.pem")
                with open(bundle, "wb") as f:
                    for p in intermediates:
                        with open(p, "rb") as g:
                            f.write(g.read())
                cmd += ["-untrusted", bundle]
            cmd += ["-attime", str(int(self.now().timestamp())), leaf_pem]
            out = run(cmd)
            if out.returncode != 0:
                detail = " ".join((out.stdout + out.stderr).decode("utf-8", "replace").replace(tmp, "").split())
                raise denied("untrusted certificate chain: %s" % detail[:400])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

        # ---- authorization ----
        if arns["trustAnchorArn"] != self.trust_anchor_arn:
            raise denied("trust anchor %s is not the configured one" % arns["trustAnchorArn"])
        if arns["profileArn"] != self.profile_arn:
            raise denied("profile %s is not the configured one" % arns["profileArn"])
        if arns["roleArn"] != self.role_arn:
            raise denied("role %s is not allowed by the profile" % arns["roleArn"])

        return {
            "algorithm": algorithm,
            "serial": serial,
            "chainLength": len(intermediates),
            "signedHeaders": signed,
            "durationSeconds": duration,
            "host": header("host"),
            "roleArn": arns["roleArn"],
        }

    def der_header_to_pem(self, value, path, what):
        if value is None:
            raise denied("missing %s header" % what)
        value = value.strip()
        if len(value) == 0 or len(value) > 32768 or len(value) % 4 != 0 or not B64.match(value):
            raise denied("%s is not standard base64 with padding" % what)
        der = base64.b64decode(value, validate=True)
        der_path = path + ".der"
        with open(der_path, "wb") as f:
            f.write(der)
        out = run(["openssl", "x509", "-inform", "DER", "-in", der_path, "-out", path])
        if out.returncode != 0:
            raise denied("%s is not a DER X.509 certificate" % what)
        # Strict DER: what openssl re-encodes must be the bytes received (no trailing data).
        back = run(["openssl", "x509", "-in", path, "-outform", "DER"]).stdout
        if back != der:
            raise denied("%s is not a strict DER certificate" % what)
        return path

    def issue(self, verified):
        now = self.now().replace(microsecond=0)
        expiration = now + datetime.timedelta(seconds=verified["durationSeconds"])
        alnum = string.ascii_uppercase + string.digits
        access_key = "ASIA" + "".join(secrets.choice(alnum) for _ in range(16))
        secret = "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))
        token = base64.b64encode(secrets.token_bytes(300)).decode()
        account = self.role_arn.split(":")[4]
        role_name = self.role_arn.split("/")[-1]
        session = format(int(verified["serial"]), "x")
        return {
            "credentialSet": [
                {
                    "assumedRoleUser": {
                        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (account, role_name, session),
                        "assumedRoleId": "AROA%s:%s" % ("".join(secrets.choice(alnum) for _ in range(17)), session),
                    },
                    "credentials": {
                        "accessKeyId": access_key,
                        "secretAccessKey": secret,
                        "sessionToken": token,
                        "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                    "packedPolicySize": 0,
                    "roleArn": self.role_arn,
                    "sourceIdentity": "CN=verified",
                }
            ],
            "subjectArn": "arn:aws:rolesanywhere:%s:%s:subject/%s" % (self.region, account, secrets.token_hex(16)),
        }


def make_handler(verifier):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "independent-verifier"

        # Idle keep-alive connections must not pin a thread forever.
        timeout = 30

        def setup(self):
            # The TLS handshake runs here, in the connection's thread, not in the accept loop.
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(self.timeout)
                self.request.do_handshake()
            super().setup()

        def log_message(self, fmt, *args):  # quiet: stdout carries the port line only
            pass

        def reply(self, status, body, error_type=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", secrets.token_hex(16))
            if error_type:
                self.send_header("X-Amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/__verifier/log":
                with verifier.lock:
                    entries = list(verifier.log)
                self.reply(200, entries)
            else:
                self.reply(404, {"message": "not found"}, "UnknownOperationException")

        def do_POST(self):
            length = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding") is not None or length is None or not length.isdigit():
                self.reply(400, {"message": "send the body with Content-Length"}, "ValidationException")
                self.close_connection = True
                return
            if int(length) > MAX_BODY:
                self.reply(400, {"message": "body too large"}, "ValidationException")
                self.close_connection = True
                return
            body = self.rfile.read(int(length))
            pairs = list(self.headers.items())
            try:
                verified = verifier.verify(self.command, self.path, pairs, body)
            except Reject as r:
                verifier.record({"status": r.status, "errorType": r.error_type, "message": r.message})
                self.reply(r.status, {"message": r.message}, r.error_type)
                return
            except Exception as e:  # a verifier bug must show, not hang the client
                verifier.record({"status": 500, "message": repr(e)})
                self.reply(500, {"message": "verifier error: %r" % e}, "InternalServerException")
                return
            verifier.record(dict(status=201, **verified))
            self.reply(201, verifier.issue(verified))

    return Handler


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that fails the TLS handshake (e.g. a test that does not trust our CA) or
        # drops the connection is expected; one line on stderr, no traceback.
        sys.stderr.write("connection error from %s: %s\n" % (client_address[0], sys.exc_info()[1]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trust-anchor", required=True, help="PEM bundle of trusted root CAs")
    p.add_argument("--region", required=True)
    p.add_argument("--trust-anchor-arn", required=True)
    p.add_argument("--profile-arn", required=True)
    p.add_argument("--role-arn", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--now", help="verify as if the time were this X-Amz-Date value")
    p.add_argument("--max-duration", type=int, default=3600)
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (the test process that started us is gone)")
    args = p.parse_args()
    if shutil.which("openssl") is None:
        raise SystemExit("the openssl command is required")
    verifier = Verifier(args)
    server = QuietServer(("127.0.0.1", 0), make_handler(verifier))
    scheme = "http"
    if args.tls_cert or args.tls_key:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    sys.stdout.write(json.dumps({"port": server.server_address[1], "scheme": scheme}) + "\n")
    sys.stdout.flush()
    if args.exit_on_stdin_eof:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
