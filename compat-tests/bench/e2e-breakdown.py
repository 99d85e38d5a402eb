#!/usr/bin/env python3
"""Split Kafka request round trips seen on loopback into the broker's part.

Usage: e2e-breakdown.py PCAP BROKER_PORT

Reads `tcpdump -tt -nn -r PCAP` and, per client connection, matches each request packet to the
next response packet in order. Valid for traffic with one request in flight per connection, as
EndToEndLatency's (one record at a time); with pipelining, requests or responses that share a
segment make the match drift. Prints, per kind (Produce of ~1 KiB, a small request answered with
data, a small request answered small), the time from request packet in to response packet out.
"""
import collections
import re
import subprocess
import sys


def main():
    pcap, port = sys.argv[1], sys.argv[2]
    text = subprocess.run(["tcpdump", "-tt", "-nn", "-r", pcap],
                          capture_output=True, text=True, check=True).stdout
    line_re = re.compile(r"^(\d+\.\d+) IP 127\.0\.0\.1\.(\d+) > 127\.0\.0\.1\.(\d+): .* length (\d+)")
    waiting = collections.defaultdict(collections.deque)
    kinds = collections.defaultdict(list)
    for line in text.splitlines():
        m = line_re.match(line)
        if not m or int(m.group(4)) == 0:
            continue
        t, src, dst, length = float(m.group(1)), m.group(2), m.group(3), int(m.group(4))
        if dst == port:
            waiting[src].append((t, length))
        elif src == port and waiting[dst]:
            t0, req_len = waiting[dst].popleft()
            if req_len > 1000:
                kind = "produce (~1 KiB request)"
            elif length > 1000:
                kind = "small request, data response"
            else:
                kind = "small request, small response"
            kinds[kind].append((t - t0) * 1e6)
    for kind, v in sorted(kinds.items()):
        v.sort()
        n = len(v)
        print(f"{kind:30s} n={n:6d} mean={sum(v) / n:8.1f} us  p50={v[n // 2]:8.1f}  "
              f"p99={v[int(n * 0.99)]:8.1f}  p99.9={v[int(n * 0.999)]:9.1f}")


if __name__ == "__main__":
    main()
