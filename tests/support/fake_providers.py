#!/usr/bin/python3
"""Fake notification providers for the integration tests, on 127.0.0.1:

- a webhook receiver (POST /hook/<name>) that checks X-Peregrine-Signature
  (HMAC-SHA256 of "<timestamp>.<body>" with --secret) and the timestamp's age;
- a Twilio-compatible API (POST /2010-04-01/Accounts/<sid>/Messages.json and
  Calls.json) that checks Basic auth (--sid / --token) and records the form;
- an SMTP server (aiosmtpd) that requires AUTH (--smtp-user / --smtp-password)
  and records each message.

Control, for the test: POST /_script {"webhook": [500, 500], "sms": [429],
"retry_after": "2"} queues the statuses the next requests of a kind get
(then 2xx); GET /_requests and GET /_mails list what arrived; the first line
on stdout is "ready" once both servers listen.
"""

import argparse
import base64
import email
import email.policy
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

lock = threading.Lock()
requests = []
mails = []
script = {}
retry_after = {"value": None}


def next_status(kind, default):
    with lock:
        queue = script.get(kind) or []
        if queue:
            return queue.pop(0)
    return default


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b"{}", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            if self.path == "/_requests":
                return self.reply(200, json.dumps(requests).encode())
            if self.path == "/_mails":
                return self.reply(200, json.dumps(mails).encode())
        self.reply(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_script":
            with lock:
                cmd = json.loads(body or b"{}")
                retry_after["value"] = cmd.pop("retry_after", None)
                for kind, statuses in cmd.items():
                    script[kind] = list(statuses)
            return self.reply(200)
        if self.path.startswith("/hook/"):
            return self.webhook(body)
        if self.path.startswith("/2010-04-01/Accounts/"):
            return self.twilio(body)
        self.reply(404)

    def respond(self, kind, status):
        headers = []
        if status in (429, 503) and retry_after["value"] is not None:
            headers.append(("Retry-After", str(retry_after["value"])))
        self.reply(status, json.dumps({"status": status}).encode(), headers)

    def webhook(self, body):
        ts = self.headers.get("X-Peregrine-Timestamp", "")
        sig = self.headers.get("X-Peregrine-Signature", "")
        want = "sha256=" + hmac.new(args.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
        status = next_status("webhook", 200)
        with lock:
            requests.append({
                "kind": "webhook", "path": self.path, "at": time.time(), "status": status,
                "delivery": self.headers.get("X-Peregrine-Delivery", ""),
                "event": self.headers.get("X-Peregrine-Event", ""),
                "signature_ok": hmac.compare_digest(sig, want) and fresh,
                "body": json.loads(body or b"null"),
            })
        self.respond("webhook", status)

    def twilio(self, body):
        parts = self.path.split("/")  # ['', '2010-04-01', 'Accounts', sid, 'Messages.json']
        kind = "sms" if parts[-1] == "Messages.json" else "voice"
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{args.sid}:{args.token}".encode()).decode()
        auth_ok = hmac.compare_digest(auth, expected) and parts[3] == args.sid
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        status = next_status(kind, 201) if auth_ok else 401
        with lock:
            requests.append({"kind": kind, "at": time.time(), "status": status, "auth_ok": auth_ok, "form": form})
        self.respond(kind, status)


class Mailbox:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        with lock:
            mails.append({
                "from": envelope.mail_from, "to": envelope.rcpt_tos, "subject": str(msg["Subject"]),
                "text": text.get_content() if text else "", "html": html.get_content() if html else "",
                "login": session.auth_data,
            })
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == args.smtp_user and auth_data.password.decode() == args.smtp_password
    return AuthResult(success=ok, auth_data=auth_data.login.decode() if ok else None)


parser = argparse.ArgumentParser()
parser.add_argument("--http-port", type=int, required=True)
parser.add_argument("--smtp-port", type=int, required=True)
parser.add_argument("--secret", required=True)
parser.add_argument("--sid", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--smtp-user", required=True)
parser.add_argument("--smtp-password", required=True)
args = parser.parse_args()

smtp = Controller(Mailbox(), hostname="127.0.0.1", port=args.smtp_port, authenticator=authenticate,
                  auth_required=True, auth_require_tls=False)
smtp.start()
http = ThreadingHTTPServer(("127.0.0.1", args.http_port), Handler)
print("ready", flush=True)
http.serve_forever()
