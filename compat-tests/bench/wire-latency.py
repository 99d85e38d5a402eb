#!/usr/bin/env python3
"""A broker's time per request, read off a loopback packet capture.

Usage: wire-latency.py PCAP BROKER_PORT [CLIENT_PORTS]

PCAP: `tcpdump -i lo -w PCAP` with whole packets (no -s limit), IPv4. Each TCP connection to
BROKER_PORT is reassembled in both directions and cut into Kafka frames (4-byte size, then the
request header: api key, version, correlation id; or the response header: correlation id);
requests and responses are matched by correlation id, so pipelined requests (several in flight
on a connection, requests or responses sharing a segment) are matched correctly.

Per kind of request (API; Fetch split by whether its response carried data) it prints the
broker's time: from the packet that completed the request to the packet that completed its
response, on the loopback interface (so it includes the kernel's loopback path both ways,
microseconds). For Produce it also prints the client's turnaround on each connection: from a
response's last packet to the next Produce request's first packet, when no other Produce was
in flight on that connection (the time the client took to send more, including waiting for
records to send). With CLIENT_PORTS (comma-separated), only those client connections count.
"""
import collections
import struct
import sys

API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
             9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
             14: "SyncGroup", 18: "ApiVersions", 22: "InitProducerId", 68: "ConsumerGroupHeartbeat"}


def packets(path):
    """(time in s, src port, dst port, seq, payload) of each IPv4 TCP packet with payload."""
    with open(path, "rb") as f:
        head = f.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        else:
            endian = ">"
            magic = struct.unpack(">I", head[:4])[0]
        nano = magic == 0xA1B23C4D
        link = struct.unpack(endian + "I", head[20:24])[0]
        skip = {1: 14, 113: 16, 276: 20, 0: 4}.get(link)
        if skip is None:
            sys.exit(f"unsupported link type {link}")
        while True:
            ph = f.read(16)
            if len(ph) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", ph)
            data = f.read(incl)
            t = sec + frac / (1e9 if nano else 1e6)
            ip = data[skip:]
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
                continue
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            tcp = ip[ihl:total]
            if len(tcp) < 20:
                continue
            sport, dport, seq = struct.unpack(">HHI", tcp[:8])
            payload = tcp[(tcp[12] >> 4) * 4:]
            if payload:
                yield t, sport, dport, seq, payload


class Direction:
    """One direction of a connection, cut into frames. `header` bytes of each frame (after the
    size) are kept; the rest is skipped."""

    def __init__(self, header):
        self.header = header
        self.next_seq = None
        self.broken = False
        self.pending = bytearray()  # size + header bytes of the frame being read
        self.left = 0  # body bytes still to skip
        self.first_t = None

    def feed(self, t, seq, payload):
        """Yields (first packet time, last packet time, size, header bytes) per complete frame."""
        if self.broken:
            return
        if self.next_seq is None:
            self.next_seq = seq
        gap = (seq - self.next_seq) & 0xFFFFFFFF
        if gap >= 0x80000000:  # retransmitted (partly) old bytes
            old = (self.next_seq - seq) & 0xFFFFFFFF
            if old >= len(payload):
                return
            payload = payload[old:]
        elif gap:
            self.broken = True  # bytes missing from the capture: cannot resync
            return
        self.next_seq = (self.next_seq + len(payload)) & 0xFFFFFFFF
        i = 0
        n = len(payload)
        while i < n:
            if self.left == 0 and not self.pending:
                self.first_t = t
            if self.left == 0:
                want = 4 + self.header - len(self.pending)
                take = payload[i:i + want]
                self.pending += take
                i += len(take)
                if len(self.pending) < 4 + self.header:
                    continue
                size = struct.unpack(">i", self.pending[:4])[0]
                if size < self.header:
                    self.broken = True
                    return
                self.left = size - self.header
                if self.left == 0:
                    yield self.first_t, t, size, bytes(self.pending[4:])
                    self.pending = bytearray()
                continue
            take = min(self.left, n - i)
            self.left -= take
            i += take
            if self.left == 0:
                yield self.first_t, t, struct.unpack(">i", self.pending[:4])[0], \
                    bytes(self.pending[4:])
                self.pending = bytearray()


def pct(v, q):
    return v[min(len(v) - 1, int(len(v) * q))]


def summary(label, v):
    v.sort()
    n = len(v)
    return (f"{label:34s} n={n:7d} mean={sum(v) / n:8.1f} us  p50={pct(v, 0.5):8.1f}  "
            f"p99={pct(v, 0.99):8.1f}  p99.9={pct(v, 0.999):9.1f}  max={v[-1]:9.1f}")


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    only = {int(p) for p in sys.argv[3].split(",")} if len(sys.argv) > 3 and sys.argv[3] else None
    to_broker = {}  # client port -> Direction
    from_broker = {}
    requests = {}  # (client port, correlation id) -> (api key, done time, first time)
    in_flight = collections.Counter()  # client port -> produce requests unanswered
    last_response = {}  # client port -> time of the last produce response, if none in flight
    kinds = collections.defaultdict(list)
    turnaround = []
    unmatched = 0
    for t, sport, dport, seq, payload in packets(path):
        if dport == port and (only is None or sport in only):
            d = to_broker.setdefault(sport, Direction(8))
            for first, done, size, head in d.feed(t, seq, payload):
                api, _version, corr = struct.unpack(">hhi", head)
                requests[(sport, corr)] = (api, done)
                if api == 0:
                    last = last_response.pop(sport, None)
                    if in_flight[sport] == 0 and last is not None and first >= last:
                        turnaround.append((first - last) * 1e6)
                    in_flight[sport] += 1
        elif sport == port and (only is None or dport in only):
            d = from_broker.setdefault(dport, Direction(4))
            for _first, done, size, head in d.feed(t, seq, payload):
                corr = struct.unpack(">i", head)[0]
                req = requests.pop((dport, corr), None)
                if req is None:
                    unmatched += 1
                    continue
                api, t_in = req
                name = API_NAMES.get(api, f"api {api}")
                if api == 1:
                    name += " (data)" if size > 1000 else " (no data)"
                if api == 0:
                    in_flight[dport] -= 1
                    if in_flight[dport] == 0:
                        last_response[dport] = done
                kinds[name].append((done - t_in) * 1e6)
    print("broker time per request (request's last packet in -> response's last packet out):")
    for name, v in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        print("  " + summary(name, v))
    if turnaround:
        print("client turnaround (Produce response out -> next Produce request in, nothing in flight):")
        print("  " + summary("Produce", turnaround))
    broken = [p for p, d in list(to_broker.items()) + list(from_broker.items()) if d.broken]
    notes = []
    if broken:
        notes.append(f"{len(broken)} stream direction(s) with bytes missing from the capture "
                     f"(parsed up to the gap)")
    if unmatched:
        notes.append(f"{unmatched} responses without a captured request")
    acks0 = sum(1 for (_p, _c), (api, _t) in requests.items() if api == 0)
    if acks0:
        notes.append(f"{acks0} Produce requests without a response (acks=0, or cut off)")
    for n in notes:
        print("note: " + n)


if __name__ == "__main__":
    main()
