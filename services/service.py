"""What the project's small services share (system_db.py, crm.py).

Python's standard library only.  A threaded HTTP/1.1 server on 127.0.0.1
(keep-alive, so nginx may keep upstream connections), JSON bodies read with
a size limit (Content-Length or chunked), RFC 9457 problem answers for
every error (also for a request line http.server itself refuses), and one
log line per request with the X-Correlation-ID it carried.

    --port N        listen on N; 0 picks a free port
    --port-file F   write the port there once listening (for tests)
    --pid-file F    write the process id there (for make demo-stop)
    --log F         the request log (default: stderr)
"""

import argparse
import datetime
import json
import os
import re
import signal
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024

# what a correlation id may be in a log line; anything else is shown escaped
_PRINTABLE = re.compile(r"[^\x20-\x7e]|[\"\\]")


def log_safe(text, limit=256):
    """A value for a log line: printable ASCII, quotes and backslashes and
    everything else escaped as \\xNN, so no one can forge a line."""
    text = text[:limit]
    return _PRINTABLE.sub(lambda m: "\\x%02x" % (ord(m.group(0)) & 0xff),
                          text)


class Problem(Exception):
    """An answer in application/problem+json (RFC 9457)."""

    def __init__(self, status, kind, title, detail, headers=None, **extra):
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def _reject_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError("duplicate member %r" % key)
        obj[key] = value
    return obj


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def unicode_text(doc):
    """Whether every string of doc, member names too, is Unicode text.
    JSON lets a string escape a lone surrogate ("\\ud800"): json.loads()
    keeps it, and no UTF-8 (sqlite3, an answer, a log line) can hold it."""
    try:
        dumps(doc).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_json(raw):
    """The body as JSON, or Problem 400: strict UTF-8, no duplicate members,
    no NaN/Infinity, no lone surrogate escapes, bounded nesting."""
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text, object_pairs_hook=_reject_duplicates,
                         parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise Problem(400, "invalid_json", "Invalid JSON",
                      "the body is not UTF-8")
    except RecursionError:
        raise Problem(400, "invalid_json", "Invalid JSON",
                      "the body is nested too deeply")
    except ValueError as e:
        raise Problem(400, "invalid_json", "Invalid JSON",
                      "the body is not valid JSON: %s" % e)
    if not unicode_text(doc):
        raise Problem(400, "invalid_json", "Invalid JSON",
                      "the body holds a lone surrogate escape: not Unicode "
                      "text")
    return doc


def dumps(doc):
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


class Handler(BaseHTTPRequestHandler):
    """Routes every method to route(); subclasses implement route()."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 30            # an idle or slow client frees its thread
    service = "service"     # names the problem types: urn:NAME:error:KIND

    # set by serve()
    log_file = sys.stderr
    log_lock = threading.Lock()

    def version_string(self):
        return self.service

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- requests

    def correlation_id(self):
        return self.headers.get("X-Correlation-ID", "")

    def dispatch(self):
        self.body = b""
        self.cid = self.correlation_id()
        try:
            self.body = self.read_body()
            status, doc, headers = self.route()
            self.send_json(status, doc, headers)
        except Problem as p:
            self.send_problem(p)
        except Exception:
            self.log_error_text(traceback.format_exc())
            self.close_connection = True
            self.send_problem(Problem(500, "internal", "Internal error",
                                      "the service failed; see its log"))

    def read_body(self):
        te = self.headers.get("Transfer-Encoding")
        length = self.headers.get("Content-Length")
        if te is not None:
            if te.strip().lower() != "chunked" or length is not None:
                self.close_connection = True
                raise Problem(400, "bad_request", "Bad request",
                              "unsupported Transfer-Encoding")
            return self.read_chunked()
        if length is None:
            return b""
        if not re.fullmatch(r"[0-9]{1,18}", length.strip()):
            self.close_connection = True
            raise Problem(400, "bad_request", "Bad request",
                          "invalid Content-Length")
        n = int(length)
        if n > MAX_BODY:
            self.close_connection = True
            raise Problem(413, "too_large", "Body too large",
                          "the body is larger than %d bytes" % MAX_BODY)
        data = self.rfile.read(n)
        if len(data) != n:
            self.close_connection = True
            raise Problem(400, "bad_request", "Bad request",
                          "the body is shorter than its Content-Length")
        return data

    def read_chunked(self):
        data = b""
        while True:
            line = self.rfile.readline(1024)
            size = line.split(b";", 1)[0].strip()
            if not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size):
                self.close_connection = True
                raise Problem(400, "bad_request", "Bad request",
                              "invalid chunk size")
            n = int(size, 16)
            if n == 0:
                break
            if len(data) + n > MAX_BODY:
                self.close_connection = True
                raise Problem(413, "too_large", "Body too large",
                              "the body is larger than %d bytes" % MAX_BODY)
            chunk = self.rfile.read(n)
            if len(chunk) != n or self.rfile.read(2) != b"\r\n":
                self.close_connection = True
                raise Problem(400, "bad_request", "Bad request",
                              "truncated chunk")
            data += chunk
        # trailers, up to the empty line
        for _ in range(64):
            if self.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                return data
        self.close_connection = True
        raise Problem(400, "bad_request", "Bad request", "too many trailers")

    def json_body(self, kinds=("application/json",)):
        """The request body as a JSON object (Problem 415, 400 or 422)."""
        ctype = self.headers.get("Content-Type", "")
        media = ctype.split(";", 1)[0].strip().lower()
        if media and media not in kinds and not media.endswith("+json"):
            raise Problem(415, "unsupported_media_type",
                          "Unsupported media type",
                          "send the body as application/json")
        if not self.body:
            raise Problem(400, "invalid_json", "Invalid JSON",
                          "a JSON body is required")
        doc = parse_json(self.body)
        if not isinstance(doc, dict):
            raise Problem(422, "invalid_body", "Invalid body",
                          "the body must be a JSON object")
        return doc

    # -- answers

    def send_json(self, status, doc, headers=None,
                  ctype="application/json"):
        body = b"" if doc is None else (dumps(doc) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def send_problem(self, p):
        doc = {"type": "urn:%s:error:%s" % (self.service, p.kind),
               "title": p.title, "status": p.status, "detail": p.detail}
        doc.update(p.extra)
        if self.cid:
            doc["correlation_id"] = log_safe(self.cid, 128)
        self.send_json(p.status, doc, p.headers,
                       ctype="application/problem+json")

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (bad request line, unknown method,
        headers too long) in the same problem form."""
        self.close_connection = True
        if not hasattr(self, "cid"):
            headers = getattr(self, "headers", None)
            self.cid = headers.get("X-Correlation-ID", "") if headers else ""
        try:
            title = self.responses[code][0]
        except KeyError:
            title = "Error"
        self.send_problem(Problem(int(code), "http_%d" % code, title,
                                  message or title))

    # -- the request log

    def log_request(self, code="-", size="-"):
        if isinstance(code, int):
            code = int(code)
        self.write_log('%s "%s" %s cid=%s' % (
            self.client_address[0],
            log_safe(getattr(self, "requestline", "") or ""), code,
            log_safe(getattr(self, "cid", "") or "-", 128)))

    def log_message(self, fmt, *args):
        self.write_log("%s %s" % (self.client_address[0],
                                  log_safe(fmt % args, 1024)))

    def log_error_text(self, text):
        self.write_log("error: " + text.replace("\n", " | "))

    def write_log(self, line):
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self.log_lock:
            self.log_file.write("%s %s %s\n" % (stamp, self.service, line))
            self.log_file.flush()


def options(description, default_port):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=default_port,
                    help="0 picks a free port (default %(default)s)")
    ap.add_argument("--port-file",
                    help="write the port there once listening")
    ap.add_argument("--pid-file", help="write the process id there")
    ap.add_argument("--log", help="the request log (default: stderr)")
    return ap


def write_file(path, number):
    """Whole or not at all: a reader never sees half a number."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % number)
    os.rename(tmp, path)


def _stop(signum, frame):
    raise SystemExit(0)


def serve(name, handler, args, describe=""):
    """Listens (or exits 1 with a clear message), writes the port file,
    serves until SIGTERM or SIGINT."""
    if args.log:
        handler.log_file = open(args.log, "a", encoding="utf-8")
    ThreadingHTTPServer.daemon_threads = True
    try:
        server = ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as e:
        sys.stderr.write("%s: cannot listen on %s:%d: %s\n"
                         % (name, args.host, args.port, e.strerror or e))
        sys.exit(1)
    port = server.server_address[1]
    if args.pid_file:
        write_file(args.pid_file, os.getpid())
    if args.port_file:
        write_file(args.port_file, port)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("%s: listening on http://%s:%d%s" % (name, args.host, port,
                                                describe), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
