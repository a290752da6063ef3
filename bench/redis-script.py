#!/usr/bin/env python3
# bench/redis-script.py: what the rate limits' GCRA script costs inside
# Redis, for a call of 1 to 120 requests (Python standard library only).
# The script is read from ngx_api_led_limit_redis.c, loaded into a private
# redis-server on a free port, and called as the gateway calls it under
# load: every request of the batch has the same two limits of one
# consumer (a second and a day), so the call reads and writes two keys.
# Redis's own time a call (INFO commandstats usec_per_call) is split into
# what any call costs and what each request adds.  Then the same for
# scripts that do only a part of the work: the fixed cost's shares.
#
#   python3 bench/redis-script.py [--calls 5000]

import argparse
import os
import re
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, '..', 'ngx_api_led_module', 'limit',
                      'ngx_api_led_limit_redis.c')


def gcra_script():
    src = open(SOURCE).read()
    body = re.search(r'ngx_api_led_limit_redis_gcra = ngx_string\((.*?)\);',
                     src, re.S).group(1)
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
    return ''.join(p.encode().decode('unicode_escape') for p in parts)


def command(*args):
    out = b'*%d\r\n' % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b'$%d\r\n%s\r\n' % (len(a), a)
    return out


class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.f = self.sock.makefile('rb')

    def reply(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b'*':
            return [self.reply() for _ in range(int(rest))]
        if kind == b'$':
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b'-':
            raise RuntimeError(rest.decode())
        return rest

    def call(self, *args):
        self.sock.sendall(command(*args))
        return self.reply()

    def usec_per_call(self, cmd):
        for line in self.call('info', 'commandstats').decode().split('\n'):
            if line.startswith('cmdstat_%s:' % cmd):
                return float(line.split('usec_per_call=')[1].split(',')[0])
        return 0.0


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def measure(r, sha, requests, calls):
    # each request: 2 limits, slots 1 and 2 (the script's byte list)
    args = ['evalsha', sha, 2, '{c4242}:s', '{c4242}:d',
            1, 10, 1000000, 2, 86400, 100000000, bytes([2, 1, 2] * requests)]
    msg = command(*args)
    r.call('config', 'resetstat')
    for _ in range(calls):
        r.sock.sendall(msg)
        r.reply()
    return r.usec_per_call('evalsha')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--calls', type=int, default=5000)
    ap.add_argument('--rounds', type=int, default=3)
    opts = ap.parse_args()

    port = free_port()
    tmp = tempfile.mkdtemp(prefix='api-led-script.')
    server = subprocess.Popen(['redis-server', '--port', str(port),
                               '--bind', '127.0.0.1', '--save', '',
                               '--appendonly', 'no', '--dir', tmp],
                              stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                r = Redis(port)
                r.call('ping')
                break
            except (OSError, RuntimeError):
                time.sleep(0.05)

        sha = r.call('script', 'load', gcra_script())

        print('the GCRA script, Redis time a call (median of %d rounds of '
              '%d calls):' % (opts.rounds, opts.calls))
        print('%9s %12s %14s' % ('requests', 'us a call', 'us a request'))
        for n in (1, 4, 9, 16, 32, 64, 120):
            us = sorted(measure(r, sha, n, opts.calls)
                        for _ in range(opts.rounds))[opts.rounds // 2]
            print('%9d %12.2f %14.2f' % (n, us, us / n))

        parts = [
            ('an empty script', "return 1"),
            ('+ TIME', "local t = redis.call('TIME') return 1"),
            ('+ MGET of 2 keys', "local t = redis.call('TIME') "
             "local a = redis.call('MGET', unpack(KEYS)) return 1"),
            ('+ 2 PSETEX', "local t = redis.call('TIME') "
             "local a = redis.call('MGET', unpack(KEYS)) "
             "redis.call('PSETEX', KEYS[1], 1000, 5) "
             "redis.call('PSETEX', KEYS[2], 1000, 5) return 1"),
        ]
        print()
        print('the fixed cost, part by part (1 request a call):')
        for name, src in parts:
            psha = r.call('script', 'load', src)
            us = sorted(measure(r, psha, 1, opts.calls)
                        for _ in range(opts.rounds))[opts.rounds // 2]
            print('  %-20s %8.2f us a call' % (name, us))
    finally:
        server.terminate()
        server.wait()


if __name__ == '__main__':
    main()
