#!/usr/bin/env python3
"""Checks a VerifiableProducer run against a VerifiableConsumer (--verbose) run, both Kafka 4.3.1
tools' JSON-lines output, and prints facts that hold for a correct broker:

- every acknowledged record (producer_send_success: partition, offset, value) was consumed at
  its acknowledged partition and offset with its value;
- no value was consumed twice (the producer is idempotent);
- per partition, consumed offsets and values only grow (order kept);
- the group's last successful commit per partition is the last consumed offset + 1.

Usage: verifiable_check.py SENT PRODUCER_JSONL CONSUMER_JSONL
"""
import json
import sys
from collections import Counter, defaultdict


def events(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    pass


def main(sent, producer_path, consumer_path):
    acked = {}
    errors = 0
    for e in events(producer_path):
        if e.get("name") == "producer_send_success":
            acked[(e["partition"], e["offset"])] = e["value"]
        elif e.get("name") == "producer_send_error":
            errors += 1
    consumed = {}
    values = Counter()
    order_ok = True
    last = {}
    committed = {}
    for e in events(consumer_path):
        name = e.get("name")
        if name == "record_data":
            p, o, v = e["partition"], e["offset"], e["value"]
            consumed[(p, o)] = v
            values[v] += 1
            if p in last and (o <= last[p][0] or int(v) <= int(last[p][1])):
                order_ok = False
            last[p] = (o, v)
        elif name == "offsets_committed" and e.get("success"):
            for x in e.get("offsets", []):
                committed[x["partition"]] = x["offset"]
    missing = sum(1 for k, v in acked.items() if consumed.get(k) != v)
    dups = sum(n - 1 for n in values.values() if n > 1)
    commits_ok = all(committed.get(p) == o + 1 for p, (o, _) in last.items())
    print(f"every one of the {sent} records acknowledged: {'yes' if len(acked) == sent else 'NO'}; send errors: {errors}")
    print(f"every acknowledged record consumed: {'yes' if acked and missing == 0 else 'NO'}")
    print(f"acknowledged records not consumed at their offset with their value: {missing}")
    print(f"values consumed more than once: {dups}")
    print(f"per-partition order kept: {'yes' if order_ok else 'NO'}")
    print(f"committed offset = last consumed + 1 for every partition: {'yes' if commits_ok else 'NO'}")
    print(f"partitions consumed: {len(last)}", file=sys.stderr)
    print(f"acknowledged: {len(acked)}, consumed: {len(consumed)}", file=sys.stderr)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
