#!/usr/bin/env python3
"""The external CRM of the demo and the tests: it records what it received.
Python's standard library only.

    python3 services/crm.py --record demo/run/crm-received.jsonl --port 8096
    python3 services/crm.py --record /tmp/r.jsonl --port 0 --port-file /tmp/p

Every POST, PUT and PATCH, to any path, is appended to the --record file
as one JSON line: {"time", "method", "path", "correlation_id",
"content_type", "body" (the text), "json" (the body parsed, or null)}.

    POST|PUT|PATCH /contacts/ID   a JSON object: 200
                                  {"crm":{"contact_id":"crm-ID",
                                   "synced":true,"trace":CORRELATION-ID}}
                                  (PATCH merges into the stored contact)
    POST   /events                a delivered event (any body): 202
    GET    /contacts/ID           the stored contact; 404
    GET    /received              what was recorded, a JSON array;
                                  ?correlation_id=X keeps X's requests
    DELETE /received              forgets it (204)
    GET    /health                {"status":"up"}

Errors are application/problem+json (400 invalid JSON, 404, 405, 422).
"""

import datetime
import json
import os
import re
import sys
import threading
from urllib.parse import parse_qs, unquote, urlsplit

sys.dont_write_bytecode = True     # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service import (Handler, Problem, dumps, options, serve,  # noqa: E402
                     unicode_text)

CONTACT = re.compile(r"[A-Za-z0-9-]{1,64}")


class Crm(Handler):
    service = "crm"
    record_file = None
    lock = threading.Lock()
    contacts = {}

    def route(self):
        if self.command in ("POST", "PUT", "PATCH"):
            self.record()
        url = urlsplit(self.path)
        path = unquote(url.path)
        m = re.fullmatch(r"/contacts/([^/]*)", path)
        if m and CONTACT.fullmatch(m.group(1)):
            return self.contact(m.group(1))
        if path == "/events":
            # the customers' events, delivered by the gateway (CloudEvents)
            self.allow("POST")
            return 202, {"accepted": True}, None
        if path == "/received":
            self.allow("GET", "HEAD", "DELETE")
            if self.command == "DELETE":
                with self.lock:
                    open(self.record_file, "w").close()
                return 204, None, None
            return 200, self.received(parse_qs(url.query)), None
        if path == "/health":
            self.allow("GET", "HEAD")
            return 200, {"status": "up"}, None
        raise Problem(404, "not_found", "Not found", "no such resource")

    def allow(self, *methods):
        if self.command not in methods:
            raise Problem(405, "method_not_allowed", "Method not allowed",
                          "%s is not allowed here" % self.command,
                          headers={"Allow": ", ".join(methods)})

    def record(self):
        text = self.body.decode("utf-8", errors="replace")
        try:
            doc = json.loads(text) if text else None
        except (ValueError, RecursionError):
            doc = None
        if not unicode_text(doc):
            # a lone surrogate escape: recorded as text only ("body")
            doc = None
        now = datetime.datetime.now(datetime.timezone.utc)
        line = dumps({
            "time": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "method": self.command,
            "path": self.path,
            "correlation_id": self.cid,
            "content_type": self.headers.get("Content-Type", ""),
            "body": text,
            "json": doc,
        })
        with self.lock:
            with open(self.record_file, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def received(self, query):
        want = query.get("correlation_id", [None])[0]
        out = []
        with self.lock:
            with open(self.record_file, encoding="utf-8") as f:
                for line in f:
                    item = json.loads(line)
                    if want is None or item["correlation_id"] == want:
                        out.append(item)
        return out

    def contact(self, contact_id):
        self.allow("GET", "HEAD", "POST", "PUT", "PATCH")
        if self.command in ("GET", "HEAD"):
            with self.lock:
                stored = self.contacts.get(contact_id)
            if stored is None:
                raise Problem(404, "not_found", "Not found",
                              "no such contact")
            return 200, {"contact_id": "crm-" + contact_id,
                         "contact": stored}, None
        doc = self.json_body()
        with self.lock:
            if self.command == "PATCH":
                merged = dict(self.contacts.get(contact_id, {}))
                merged.update(doc)
                doc = merged
            self.contacts[contact_id] = doc
        return 200, {"crm": {"contact_id": "crm-" + contact_id,
                             "synced": True, "trace": self.cid}}, None


def main():
    ap = options("The CRM: records what it receives.", 8096)
    ap.add_argument("--record", required=True,
                    help="the JSON Lines file of what was received")
    args = ap.parse_args()
    try:
        open(args.record, "a").close()
    except OSError as e:
        sys.stderr.write("crm: %s: %s\n" % (args.record, e.strerror))
        sys.exit(1)
    Crm.record_file = args.record
    serve("crm", Crm, args, " (records to %s)" % args.record)


if __name__ == "__main__":
    main()
