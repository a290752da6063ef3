#!/usr/bin/env python3
# bench/soak-rss.py: the memory verdict of bench/soak.sh.
#
#   soak-rss.py SAMPLES.csv GROWTH_KB
#
# SAMPLES.csv has one line per process and sample (every SOAK_SAMPLE
# seconds): epoch,phase,pid,role,rss_kb,anon_kb,file_kb,shmem_kb, role being
# "worker", "old" (a worker shutting down after a reload) or "master".
# For every worker sampled during the soak (phases named soak*) it prints
# the first, last and largest RSS and RssAnon (the worker's private heap:
# RssFile and RssShmem grow as the binary's pages and the shared zones are
# touched, which is no leak) and the least-squares slope of RssAnon in KB a
# minute.  A worker whose slope, over the soak's length, makes more than
# GROWTH_KB is a failure (exit 1).  The master's RSS before and after the
# reloads is printed for information.

import csv
import sys


def slope(points):
    """Least-squares slope of (x, y) points, y units per x unit."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def mb(kb):
    return f'{kb / 1024:.1f}M'


def main():
    path, limit = sys.argv[1], float(sys.argv[2])
    rows = []
    with open(path, newline='') as f:
        for r in csv.reader(f):
            if len(r) != 8:
                continue
            rows.append({'t': float(r[0]), 'phase': r[1], 'pid': r[2],
                         'role': r[3], 'rss': int(r[4]), 'anon': int(r[5]),
                         'file': int(r[6]), 'shmem': int(r[7])})

    soak = [r for r in rows if r['phase'].startswith('soak')
            and r['role'] == 'worker']
    failed = False
    if not soak:
        print('memory: no sample taken during the soak')
        return 1

    t0 = min(r['t'] for r in soak)
    t1 = max(r['t'] for r in soak)
    minutes = (t1 - t0) / 60
    print(f'\nworker memory over the soak ({minutes:.1f} min, '
          f'{len({r["t"] for r in soak})} samples; '
          f'limit: RssAnon growth of {limit:.0f} KB by the slope)')
    print(f'  {"pid":>7} {"samples":>7}  {"RSS first":>9} {"last":>7} '
          f'{"max":>7}  {"anon first":>10} {"last":>7} {"max":>7}  '
          f'{"anon slope":>14} {"growth":>9}')
    for pid in sorted({r['pid'] for r in soak}, key=int):
        s = sorted((r for r in soak if r['pid'] == pid), key=lambda r: r['t'])
        k = slope([((r['t'] - t0) / 60, r['anon']) for r in s])
        growth = k * minutes
        bad = growth > limit
        failed |= bad
        print(f'  {pid:>7} {len(s):>7}  {mb(s[0]["rss"]):>9} '
              f'{mb(s[-1]["rss"]):>7} {mb(max(r["rss"] for r in s)):>7}  '
              f'{mb(s[0]["anon"]):>10} {mb(s[-1]["anon"]):>7} '
              f'{mb(max(r["anon"] for r in s)):>7}  '
              f'{k:>+9.1f} KB/min {growth:>+7.0f}KB'
              f'{"  GROWS" if bad else ""}')
        lo = min(s, key=lambda r: r['t'])
        print(f'  {"":>7} {"":>7}  (first sample: RssFile {mb(lo["file"])}, '
              f'RssShmem {mb(lo["shmem"])}; last: '
              f'RssFile {mb(s[-1]["file"])}, RssShmem {mb(s[-1]["shmem"])})')

    master = sorted((r for r in rows if r['role'] == 'master'),
                    key=lambda r: r['t'])
    if master:
        first = master[0]
        pre = [r for r in master if r['phase'] in ('warmup', 'start')]
        before = pre[-1] if pre else first
        print(f'  master: RSS {mb(before["rss"])} before the reloads, '
              f'{mb(master[-1]["rss"])} at the end '
              f'(max {mb(max(r["rss"] for r in master))}; '
              f'RssAnon {mb(before["anon"])} -> {mb(master[-1]["anon"])})')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
