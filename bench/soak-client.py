#!/usr/bin/env python3
# bench/soak-client.py: the load of bench/soak.sh (Python standard library
# only).  Keep-alive HTTP/1.1 connections send a weighted mix of request
# kinds (kinds.json, written by soak.sh next to the nginx configuration it
# describes); every answer is read completely and classified:
#
#   ok          a 2xx whose body passes the kind's checks
#   expected    a status the kind expects (a 429 of a low plan, a 401 of a
#               bad credential, a 503 of a fail-closed limit while Redis
#               is away): "STATUS CODE", CODE from the problem+json type
#   documented  a problem+json answer whose status and code are in the
#               table of docs/core.md, but not expected here (printed)
#   FAIL        anything else: another status, a 2xx with a wrong body, a
#               connection reset, an empty reply, a hang, a broken answer
#
# Each request counts in the phase it started in: soak.sh writes the name
# of the current phase into a file that the client reads every 100 ms
# ("STOP" ends the run).  A request sent on a reused connection that the
# server closes before answering a byte is retried once on a new
# connection in phases whose name contains "reload" (graceful shutdown of
# old workers closes idle keep-alive connections: the race of RFC 9112
# 9.3.1), counted as "retry"; in any other phase it is a failure.
#
#   soak-client.py --kinds kinds.json --phase-file F --out result.json
#                  [--conns 32] [--timeout 10] [--details 20] [--docs core.md]
#
# A kind with "abort" is a client that goes away: it sends its request
# ("in-body": the headers and half the body) on a new connection and closes
# it after 0 to abort_ms ms, half of the time with a RST; counted as
# "abort", never read.
#
# Exit status: 0 with no failure, 1 with failures, 3 with answers that are
# documented but not expected (and no failure).

import argparse
import asyncio
import collections
import json
import random
import re
import socket
import struct
import sys
import time


class EmptyReply(Exception):
    """The connection ended before the first byte of an answer."""


class BrokenReply(Exception):
    """The connection ended, or the bytes made no sense, inside an answer."""


def documented_codes(path):
    """(status, code) pairs of the problem table of docs/core.md."""
    codes = set()
    try:
        with open(path, encoding='utf-8') as f:
            for line in f:
                m = re.match(r'^\| `([a-z_]+)` \| (\d{3}) \|', line)
                if m:
                    codes.add((int(m.group(2)), m.group(1)))
    except OSError as e:
        print(f'soak-client: {path}: {e}', file=sys.stderr)
    return codes


def problem_code(headers, body):
    """The CODE of a problem+json body's "type" (urn:api-led:error:CODE)."""
    if not headers.get('content-type', '').startswith(
            'application/problem+json'):
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    t = doc.get('type', '') if isinstance(doc, dict) else ''
    prefix = 'urn:api-led:error:'
    return t[len(prefix):] if t.startswith(prefix) else None


async def read_answer(reader, method):
    """One HTTP/1.1 answer: (status, headers, body)."""
    try:
        head = await reader.readuntil(b'\r\n\r\n')
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            raise EmptyReply('connection closed before any byte of an answer')
        raise BrokenReply(f'connection closed after {len(e.partial)} bytes '
                          f'of a header: {e.partial[:200]!r}')
    except asyncio.LimitOverrunError:
        raise BrokenReply('header over 64 KB')
    lines = head.decode('latin-1').split('\r\n')
    m = re.match(r'^HTTP/1\.[01] (\d{3})', lines[0])
    if not m:
        raise BrokenReply(f'bad status line {lines[0][:200]!r}')
    status = int(m.group(1))
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(':')
        name = name.strip().lower()
        value = value.strip()
        headers[name] = headers[name] + ', ' + value if name in headers \
            else value

    try:
        if method == 'HEAD' or status in (204, 304) or 100 <= status < 200:
            body = b''
        elif 'chunked' in headers.get('transfer-encoding', '').lower():
            body = b''
            while True:
                line = await reader.readuntil(b'\r\n')
                size = int(line.split(b';')[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b'\r\n')) != b'\r\n':
                        pass
                    break
                chunk = await reader.readexactly(size + 2)
                if chunk[-2:] != b'\r\n':
                    raise BrokenReply('chunk not followed by CRLF')
                body += chunk[:-2]
        elif 'content-length' in headers:
            body = await reader.readexactly(int(headers['content-length']))
        else:
            body = await reader.read()
            headers['connection'] = 'close'
    except asyncio.IncompleteReadError as e:
        raise BrokenReply(f'status {status}: connection closed inside the '
                          f'body after {len(e.partial)} bytes')
    except ValueError as e:
        raise BrokenReply(f'status {status}: bad chunk size ({e})')
    return status, headers, body


class Soak:
    def __init__(self, opts):
        self.opts = opts
        with open(opts.kinds, encoding='utf-8') as f:
            spec = json.load(f)
        self.host = spec.get('host', '127.0.0.1')
        self.port = spec['port']
        self.kinds = spec['kinds']
        for k in self.kinds:
            body = k.get('body', '').encode()
            hdrs = dict(k.get('headers', {}))
            if body:
                hdrs.setdefault('Content-Type', 'application/json')
                hdrs['Content-Length'] = str(len(body))
            req = f"{k['method']} {k['path']} HTTP/1.1\r\n" \
                  f"Host: soak\r\n" + \
                  ''.join(f'{n}: {v}\r\n' for n, v in hdrs.items()) + '\r\n'
            k['raw'] = req.encode() + body
            if k.get('abort') == 'in-body':
                # the headers and half the body, then the client goes
                k['raw'] = req.encode() + body[:len(body) // 2]
        self.weights = [k.get('weight', 1) for k in self.kinds]
        self.documented = documented_codes(opts.docs)
        self.phase = 'start'
        self.phase_since = time.monotonic()
        self.phases = []                  # in order of first appearance
        self.phase_secs = collections.Counter()   # phase -> seconds in it
        self.counts = collections.Counter()   # (phase, kind, label) -> n
        self.classes = {}                     # (phase, kind, label) -> class
        self.latency = collections.defaultdict(lambda: [0.0, 0])
        self.lag = collections.defaultdict(float)   # phase -> worst lag
        self.details = collections.Counter()  # printed: class, (class,
                                              # kind, label)
        self.failures = 0
        self.undocumented = 0             # documented, not expected
        self.total = 0
        self.stopping = False
        self.rng = random.Random(16)

    # a phase is a Redis outage for the expectations when its name says so
    def faulty(self, phase):
        return 'redis-' in phase

    def expected(self, kind, phase, label):
        if label in kind.get('expect', []):
            return True
        if self.faulty(phase) and label in kind.get('expect_redis_down', []):
            return True
        return False

    def classify(self, kind, phase, status, headers, body):
        """(class, label, why) of one complete answer."""
        code = problem_code(headers, body)
        label = f'{status} {code}' if code else str(status)
        if 200 <= status < 300:
            text = body.decode('utf-8', 'replace')
            for s in kind.get('body_has', []):
                if s not in text:
                    return 'FAIL', f'{status} wrong body', f'lacks {s!r}'
            for s in kind.get('body_lacks', []):
                if s in text:
                    return 'FAIL', f'{status} wrong body', f'has {s!r}'
            return 'ok', label, ''
        if self.expected(kind, phase, label):
            return 'expected', label, ''
        if code and (status, code) in self.documented:
            return 'documented', label, 'documented, not expected here'
        return 'FAIL', label, 'not a documented answer'

    def record(self, kind, phase, cls, label, why, t0, conn, uses,
               status=None, headers=None, body=b''):
        now = time.monotonic()
        key = (phase, kind['name'], label)
        self.counts[key] += 1
        self.classes[key] = cls
        if cls in ('ok', 'expected', 'documented', 'FAIL'):
            self.total += 1
            lat = self.latency[phase]
            lat[0] = max(lat[0], now - t0)
            if now - t0 > 1.0:
                lat[1] += 1
        if cls == 'FAIL':
            self.failures += 1
        if cls == 'documented':
            self.undocumented += 1
        # details: at most --details a class, 3 of one kind and answer
        slow = cls in ('ok', 'expected', 'documented') and now - t0 > 1.0
        same = ('slow' if slow else cls, kind['name'], label)
        if (slow or cls in ('FAIL', 'documented', 'retry')) \
                and self.details[same[0]] < self.opts.details \
                and self.details[same] < 3:
            self.details[same[0]] += 1
            self.details[same] += 1
        else:
            slow = None
        if slow is not None:
            if slow:
                cls = 'slow ' + cls
            hdr = ''
            if headers:
                hdr = ' '.join(f'{n}: {headers[n]};' for n in
                               ('content-type', 'content-length',
                                'transfer-encoding', 'connection',
                                'retry-after') if n in headers)
            print(f"soak-client: {cls} {time.strftime('%H:%M:%S')} "
                  f"phase={phase} kind={kind['name']} "
                  f"({kind['method']} {kind['path']}) conn={conn} "
                  f"request#{uses + 1} on it, {now - t0:.3f}s: {label}"
                  f"{' (' + why + ')' if why else ''}"
                  f"{' | ' + hdr if hdr else ''}"
                  f"{' | body: ' + body[:300].decode('utf-8', 'replace') if body else ''}",
                  file=sys.stderr, flush=True)

    def enter(self, phase):
        now = time.monotonic()
        self.phase_secs[self.phase] += now - self.phase_since
        self.phase, self.phase_since = phase, now
        if phase not in self.phases:
            self.phases.append(phase)

    async def watch_phase(self):
        while True:
            try:
                with open(self.opts.phase_file, encoding='utf-8') as f:
                    p = f.read().strip() or self.phase
            except OSError:
                p = self.phase
            if p != self.phase:
                self.enter(p)
            if p == 'STOP':
                self.stopping = True
                return
            await asyncio.sleep(0.1)

    async def watch_lag(self):
        """How late the client's own event loop runs: an answer that took
        1 s while the client itself stood still for 1 s says nothing about
        the gateway (a shared machine can stop any process that long)."""
        while not self.stopping:
            t0 = time.monotonic()
            await asyncio.sleep(0.05)
            lag = time.monotonic() - t0 - 0.05
            self.lag[self.phase] = max(self.lag[self.phase], lag)
            if lag > 0.5:
                print(f"soak-client: the client itself stood still "
                      f"{lag * 1000:.0f} ms at {time.strftime('%H:%M:%S')} "
                      f"(phase {self.phase})", file=sys.stderr, flush=True)

    async def progress(self):
        while not self.stopping:
            try:
                with open(self.opts.progress, 'w', encoding='utf-8') as f:
                    f.write(f'{self.total} {self.failures}\n')
            except OSError:
                pass
            await asyncio.sleep(1)

    async def abort(self, kind, phase, cid):
        """A client that sends a request (or part of it) and goes away
        after 0 to abort_ms ms, with a FIN or a RST."""
        t0 = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port),
                self.opts.timeout)
            writer.write(kind['raw'])
            await asyncio.sleep(self.rng.uniform(0, kind.get('abort_ms', 20))
                                / 1000)
            how = 'FIN'
            if self.rng.random() < 0.5:
                how = 'RST'
                sock = writer.get_extra_info('socket')
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack('ii', 1, 0))
            writer.close()
            self.record(kind, phase, 'aborted', f'client abort ({how})', '',
                        t0, cid, 0)
        except (OSError, asyncio.TimeoutError) as e:
            self.record(kind, phase, 'FAIL',
                        f'socket error {e.__class__.__name__}', str(e),
                        t0, cid, 0)

    async def connection(self, cid):
        reader = writer = None
        uses = 0
        while not self.stopping:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            phase = self.phase
            if kind.get('abort'):
                await self.abort(kind, phase, cid)
                continue
            t0 = time.monotonic()
            retried = False
            while True:
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(
                            asyncio.open_connection(self.host, self.port,
                                                    limit=1 << 16),
                            self.opts.timeout)
                        uses = 0
                    writer.write(kind['raw'])
                    status, headers, body = await asyncio.wait_for(
                        read_answer(reader, kind['method']),
                        self.opts.timeout)
                except (EmptyReply, ConnectionResetError,
                        BrokenPipeError) as e:
                    writer = self.close(writer)
                    if isinstance(e, EmptyReply):
                        what = 'empty reply'
                    else:
                        what = f'reset ({e.__class__.__name__})'
                    if uses > 0 and not retried and 'reload' in phase:
                        self.record(kind, phase, 'retry',
                                    f'{what} on a reused connection', '',
                                    t0, cid, uses)
                        retried = True
                        continue
                    self.record(kind, phase, 'FAIL', what,
                                f'{e}; connection used {uses} times before',
                                t0, cid, uses)
                    break
                except asyncio.TimeoutError:
                    writer = self.close(writer)
                    self.record(kind, phase, 'FAIL', 'timeout',
                                f'no complete answer in {self.opts.timeout}s',
                                t0, cid, uses)
                    break
                except BrokenReply as e:
                    writer = self.close(writer)
                    self.record(kind, phase, 'FAIL', 'broken answer', str(e),
                                t0, cid, uses)
                    break
                except OSError as e:
                    writer = self.close(writer)
                    self.record(kind, phase, 'FAIL',
                                f'socket error {e.__class__.__name__}',
                                str(e), t0, cid, uses)
                    await asyncio.sleep(0.1)
                    break
                cls, label, why = self.classify(kind, phase, status, headers,
                                                body)
                self.record(kind, phase, cls, label, why, t0, cid, uses,
                            status, headers, body)
                uses += 1
                if headers.get('connection', '').lower() == 'close':
                    writer = self.close(writer)
                break
        self.close(writer)

    @staticmethod
    def close(writer):
        if writer is not None:
            writer.close()
        return None

    async def run(self):
        self.enter(self.phase)
        watcher = asyncio.create_task(self.watch_phase())
        prog = asyncio.create_task(self.progress())
        lag = asyncio.create_task(self.watch_lag())
        await asyncio.gather(*(self.connection(i)
                               for i in range(self.opts.conns)))
        await watcher
        await prog
        await lag

    async def preflight(self):
        """Each kind once, on a connection of its own: is the setup right?"""
        bad = 0
        for kind in self.kinds:
            if kind.get('abort'):
                continue
            try:
                reader, writer = await asyncio.open_connection(self.host,
                                                               self.port)
                writer.write(kind['raw'])
                status, headers, body = await asyncio.wait_for(
                    read_answer(reader, kind['method']), self.opts.timeout)
                writer.close()
                cls, label, why = self.classify(kind, 'preflight', status,
                                                headers, body)
            except Exception as e:       # any failure of the setup
                cls, label, why, body = 'FAIL', repr(e), '', b''
            ok = cls in ('ok', 'expected')
            bad += not ok
            print(f"  {kind['name']:<16} {label} [{cls}]"
                  f"{'' if ok else ' ' + why + ' ' + body[:300].decode('utf-8', 'replace')}")
        return bad

    def report(self):
        out = {'phases': [], 'failures': self.failures,
               'documented_unexpected': self.undocumented,
               'total': self.total}
        tags = {'ok': 'ok', 'expected': 'exp', 'documented': 'DOC',
                'FAIL': 'FAIL', 'retry': 'retry', 'aborted': 'abort'}
        print('\nstatuses by phase (ok = 2xx with the right body; '
              'exp = expected; DOC = documented but not expected here; '
              'FAIL = failure; retry = keep-alive close race, sent again; '
              'abort = the client went away on purpose)')
        for phase in self.phases:
            if phase == 'STOP' or not any(p == phase for p, _, _ in
                                              self.counts):
                continue
            rows = {(k, l): n for (p, k, l), n in self.counts.items()
                    if p == phase}
            n = sum(c for (k, l), c in rows.items()
                    if self.classes[(phase, k, l)]
                    in ('ok', 'expected', 'documented', 'FAIL'))
            secs = max(self.phase_secs[phase], 1e-9)
            lat = self.latency[phase]
            print(f'\n== {phase}: {n} answers in {secs:.0f} s '
                  f'({n / secs:.0f}/s), slowest {lat[0] * 1000:.0f} ms, '
                  f'{lat[1]} over 1 s (the client stood still up to '
                  f'{self.lag[phase] * 1000:.0f} ms)')
            ph = {'phase': phase, 'answers': n, 'seconds': round(secs, 1),
                  'slowest_ms': round(lat[0] * 1000),
                  'client_lag_ms': round(self.lag[phase] * 1000),
                  'statuses': {}}
            by_kind = collections.defaultdict(list)
            for (k, l), c in sorted(rows.items()):
                by_kind[k].append((l, c))
            for k in [k['name'] for k in self.kinds]:
                if k not in by_kind:
                    continue
                cells = []
                for l, c in by_kind[k]:
                    cls = self.classes[(phase, k, l)]
                    cells.append(f'{l} [{tags[cls]}] {c}')
                    ph['statuses'].setdefault(k, {})[l] = {'class': cls,
                                                           'count': c}
                print(f'  {k:<16} ' + ', '.join(cells))
            out['phases'].append(ph)
        print(f'\ntotal: {self.total} answers, {self.failures} failures, '
              f'{self.undocumented} documented answers not expected')
        with open(self.opts.out, 'w', encoding='utf-8') as f:
            json.dump(out, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kinds', required=True)
    ap.add_argument('--phase-file', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--progress', default='/dev/null')
    ap.add_argument('--conns', type=int, default=32)
    ap.add_argument('--timeout', type=float, default=10)
    ap.add_argument('--details', type=int, default=20)
    ap.add_argument('--docs', default='docs/core.md')
    ap.add_argument('--preflight', action='store_true',
                    help='each kind once, exit 1 unless all are as expected')
    opts = ap.parse_args()
    soak = Soak(opts)
    if opts.preflight:
        sys.exit(1 if asyncio.run(soak.preflight()) else 0)
    asyncio.run(soak.run())
    soak.report()
    sys.exit(1 if soak.failures else 3 if soak.undocumented else 0)


if __name__ == '__main__':
    main()
