#!/usr/bin/env python3
"""SSE fan-out client for bench/09-sse-fanout.sh.

sse-fanout.py PORT PATH REDIS_PORT STREAM SUBSCRIBERS EVENTS

Opens SUBSCRIBERS Server-Sent Events connections (HTTP/1.1) to
127.0.0.1:PORT/PATH, waits until each has its response head and first
message, then, EVENTS times, adds one entry to STREAM (XADD on Redis) and
measures the time from the XADD's reply to the moment the last subscriber
received the entry.  Prints one line per event (ms to the first and the
last subscriber) and a summary with the median time to the last one.
"""
import selectors
import socket
import statistics
import sys
import time


def redis_cmd(port, *args):
    s = socket.create_connection(("127.0.0.1", port))
    req = "*%d\r\n" % len(args) + "".join(
        "$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args)
    s.sendall(req.encode())
    data = s.recv(65536)
    s.close()
    return data


def main():
    port, path, rport, stream, nsubs, nevents = sys.argv[1:7]
    port, rport, nsubs, nevents = int(port), int(rport), int(nsubs), int(nevents)
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(nsubs):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(("GET %s HTTP/1.1\r\nHost: bench\r\n"
                   "Accept: text/event-stream\r\n\r\n" % path).encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    bufs = [b""] * nsubs
    ready = 0
    seen = [False] * nsubs
    deadline = time.time() + 30
    # every subscriber has its head and the first "retry:" message
    while ready < nsubs and time.time() < deadline:
        for key, _ in sel.select(1):
            i = key.data
            chunk = key.fileobj.recv(65536)
            if not chunk:
                sys.exit("subscriber %d closed before it started" % i)
            bufs[i] += chunk
            if not seen[i] and b"retry: " in bufs[i]:
                seen[i] = True
                ready += 1
    if ready < nsubs:
        sys.exit("only %d of %d subscribers started" % (ready, nsubs))
    lasts = []
    for n in range(nevents):
        bufs = [b""] * nsubs
        got = [False] * nsubs
        count = 0
        marker = ("\"n\":%d," % n).encode()
        redis_cmd(rport, "XADD", stream, "*", "type", "bench.tick",
                  "event", '{"n":%d,"pad":"%s"}' % (n, "x" * 200))
        t0 = time.perf_counter()
        first = None
        deadline = time.time() + 30
        while count < nsubs and time.time() < deadline:
            for key, _ in sel.select(1):
                i = key.data
                chunk = key.fileobj.recv(65536)
                if not chunk:
                    sys.exit("subscriber %d closed" % i)
                bufs[i] += chunk
                if not got[i] and marker in bufs[i]:
                    got[i] = True
                    count += 1
                    if first is None:
                        first = time.perf_counter() - t0
        last = time.perf_counter() - t0
        if count < nsubs:
            sys.exit("event %d reached %d of %d subscribers" % (n, count, nsubs))
        lasts.append(last)
        print("event %d: first subscriber %.2f ms, last (%d) %.2f ms"
              % (n, first * 1000, nsubs, last * 1000))
        time.sleep(0.2)
    print("median time to the last of %d subscribers: %.2f ms "
          "(min %.2f, max %.2f, %d events)"
          % (nsubs, statistics.median(lasts) * 1000, min(lasts) * 1000,
             max(lasts) * 1000, nevents))


if __name__ == "__main__":
    main()
