"""A real HTTPS SMS gateway on loopback for the tests, with nothing but the
standard library and the openssl command.

- Pki(directory): a throwaway CA and a server certificate it signed for
  127.0.0.1 and localhost, made with `openssl`; also a second, unrelated CA
  with its own server certificate, and a certificate of the right CA for
  another host name, for the tests of TLS failures.
- SmsGateway(directory, ...): a threaded HTTPS server on 127.0.0.1 (a free
  port) that records every request (method, path, headers, body, and the
  fields it parsed from a form or a JSON object) as one JSON line in
  DIR/requests.jsonl; that checks basic auth or a bearer token when told
  which to expect (401 otherwise); and that answers as its control file,
  DIR/control.json, says at that moment: a status, a body, headers, a delay
  before answering.  Use it as a context manager:

      with SmsGateway(d, basic=("AC123", "pw")) as gw:
          ...                  # send to gw.url("/v1/messages"), ca_file=gw.ca_file
          gw.behave(status=500)
          gw.last_code()       # the code in the last message it took

usage as a program: sms_gateway.py DIR [--basic USER PASSWORD | --bearer TOKEN]
Prints the URL once it listens, then serves until killed.
"""
import base64
import hmac
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A request body larger than this is not read (the gateway's bound, not
# the module's).
BODY_MAX = 1 << 20

# What a gateway such as Twilio answers when it takes a message.
DEFAULT_ANSWER = {"status": 201, "body": json.dumps({"sid": "SM0123456789abcdef",
                                                     "status": "queued"}),
                  "content_type": "application/json", "delay": 0, "headers": {}}


def _run(*argv):
    subprocess.run(argv, check=True, capture_output=True)


class Pki:
    """Certificates made with the openssl command in directory."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.ca_file, ca_key = self._ca("ca", "pam_mfa test SMS CA")
        self.cert, self.key = self._server("server", self.ca_file, ca_key,
                                           "IP:127.0.0.1,DNS:localhost")
        # The same CA, another host's name: the chain is good, the name is not.
        self.wrong_name_cert, self.wrong_name_key = self._server(
            "wrong-name", self.ca_file, ca_key, "DNS:sms.example.org")
        # Another CA altogether, which no client of these tests trusts.
        other_ca, other_key = self._ca("other-ca", "some other CA")
        self.other_ca_file = other_ca
        self.other_cert, self.other_key = self._server("other", other_ca, other_key,
                                                       "IP:127.0.0.1,DNS:localhost")

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        cert, key = self._path(name + ".pem"), self._path(name + ".key")
        _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
             "-subj", "/CN=" + cn, "-days", "36500",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def _server(self, name, ca_cert, ca_key, san):
        cert, key, csr = (self._path(name + ext) for ext in (".pem", ".key", ".csr"))
        ext = self._path(name + ".ext")
        _run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + san.split(",")[0][3:])
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n" % san)
        _run("openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
             "-CAcreateserial", "-out", cert, "-days", "36500", "-extfile", ext)
        return cert, key


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sms-gateway-test/1"

    def log_message(self, *args):
        pass        # the record is requests.jsonl, not stderr

    def _auth_ok(self):
        gw = self.server.gateway
        got = self.headers.get("Authorization", "")
        if gw.basic is not None:
            want = "Basic " + base64.b64encode(("%s:%s" % gw.basic).encode()).decode()
        elif gw.bearer is not None:
            want = "Bearer " + gw.bearer
        else:
            return True
        return hmac.compare_digest(got.encode(), want.encode())

    def _handle(self):
        gw = self.server.gateway
        length = int(self.headers.get("Content-Length", "0") or "0")
        raw = self.rfile.read(min(length, BODY_MAX)) if length > 0 else b""
        body = raw.decode("utf-8", "replace")
        ctype = self.headers.get("Content-Type", "")
        record = {"time": time.time(), "method": self.command, "path": self.path,
                  "headers": dict(self.headers.items()), "body": body,
                  "form": None, "json": None}
        if ctype.startswith("application/x-www-form-urlencoded"):
            try:
                record["form"] = dict(urllib.parse.parse_qsl(body, keep_blank_values=True,
                                                             strict_parsing=bool(body),
                                                             errors="strict"))
            except ValueError as e:
                record["form_error"] = str(e)
        elif ctype.startswith("application/json"):
            try:
                record["json"] = json.loads(body)
            except ValueError as e:
                record["json_error"] = str(e)
        answer = dict(DEFAULT_ANSWER)
        answer.update(gw.control())
        record["auth_ok"] = self._auth_ok()
        if not record["auth_ok"]:
            answer.update(status=401, body='{"code": 20003, "message": "Authenticate"}',
                          content_type="application/json", delay=0, headers={
                              "WWW-Authenticate": 'Basic realm="sms"' if gw.basic
                              else 'Bearer realm="sms"'})
        record["answered"] = answer["status"]
        gw.record(record)
        if answer.get("delay"):
            time.sleep(answer["delay"])
        data = answer["body"].encode() * int(answer.get("repeat", 1))
        try:
            self.send_response(answer["status"])
            self.send_header("Content-Type", answer["content_type"])
            self.send_header("Content-Length", str(len(data)))
            for k, v in answer.get("headers", {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass    # the client gave up (a timeout test)

    do_POST = do_PUT = do_GET = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def finish_request(self, request, client_address):
        # The TLS handshake in the request's own thread, not the accepting
        # one: a client that stalls or fails it holds up no other.
        request.settimeout(30)
        try:
            tls = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.gateway.tls_failures.append(str(e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class SmsGateway:
    """The gateway, as a context manager; see the module's docstring.

    basic=(user, password) or bearer=token: what it requires (else 401);
    pki: a Pki (one is made in directory when None); cert: "good" (the
    default), "other-ca" or "wrong-name", the certificate it shows;
    answer: the control file's first contents (see behave())."""

    def __init__(self, directory, basic=None, bearer=None, pki=None, cert="good", **answer):
        self.dir = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.basic, self.bearer = basic, bearer
        self.pki = pki or Pki(os.path.join(directory, "pki"))
        self.ca_file = self.pki.ca_file
        self.cert = cert
        self.log = os.path.join(directory, "requests.jsonl")
        self.control_file = os.path.join(directory, "control.json")
        self.tls_failures = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        open(self.log, "w").close()
        self.behave(**answer)

    # -- control

    def behave(self, status=None, body=None, delay=0, content_type=None, headers=None,
               repeat=1, mode=None):
        """What the next requests get.  mode is a shorthand: "ok" (201 and a
        JSON object, the default), "error" (500), "nonsense" (200 and a body
        that is not JSON), "slow" (the default answer after delay seconds),
        "empty" (200, no body); status, body, content_type, headers and
        repeat (the body so many times over) then override it."""
        answer = dict(DEFAULT_ANSWER)
        if mode == "error":
            answer.update(status=500, body='{"message": "internal error"}')
        elif mode == "nonsense":
            answer.update(status=200, body="<html><body>Message queued!</body></html>",
                          content_type="text/html")
        elif mode == "empty":
            answer.update(status=200, body="")
        elif mode not in (None, "ok", "slow"):
            raise ValueError("unknown mode %r" % mode)
        for k, v in (("status", status), ("body", body), ("content_type", content_type),
                     ("headers", headers)):
            if v is not None:
                answer[k] = v
        answer["delay"] = delay
        answer["repeat"] = repeat
        tmp = self.control_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(answer, f)
        os.replace(tmp, self.control_file)

    def control(self):
        with open(self.control_file) as f:
            return json.load(f)

    # -- the record

    def record(self, entry):
        with self._lock, open(self.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def requests(self):
        with self._lock, open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def last(self):
        reqs = self.requests()
        if not reqs:
            raise AssertionError("the SMS gateway has recorded no request")
        return reqs[-1]

    @staticmethod
    def fields(entry):
        """The fields of a recorded request, from its form or JSON body."""
        if entry.get("form") is not None:
            return entry["form"]
        if isinstance(entry.get("json"), dict):
            return entry["json"]
        return {}

    def last_message(self, field=None):
        """The text of field in the last request, or all its values."""
        fields = self.fields(self.last())
        if field is not None:
            return fields[field]
        return "\n".join(str(v) for v in fields.values())

    def last_code(self, field=None):
        """The one-time code in the last message: 6 to 10 digits that are
        not part of a longer number, such as the phone number."""
        found = re.findall(r"(?<![\d+])(\d{6,10})(?!\d)", self.last_message(field))
        if not found:
            raise AssertionError("no code in the last message: %r" % self.last_message(field))
        return found[0]

    # -- running

    def url(self, path="/v1/messages"):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    @property
    def port(self):
        return self._server.server_address[1]

    def start(self):
        cert, key = {"good": (self.pki.cert, self.pki.key),
                     "other-ca": (self.pki.other_cert, self.pki.other_key),
                     "wrong-name": (self.pki.wrong_name_cert, self.pki.wrong_name_key)}[self.cert]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.gateway = self
        self._server.tls = ctx
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    kwargs = {}
    if "--basic" in argv:
        i = argv.index("--basic")
        kwargs["basic"] = (argv[i + 1], argv[i + 2])
    if "--bearer" in argv:
        kwargs["bearer"] = argv[argv.index("--bearer") + 1]
    with SmsGateway(argv[1], **kwargs) as gw:
        print(gw.url(), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
