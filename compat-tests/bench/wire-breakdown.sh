#!/usr/bin/env bash
# Where a latency row's time goes: both brokers side by side (as in run.sh), one run of the row's
# client each, captured with tcpdump on loopback; then wire-latency.py splits the capture into
# the broker's time per request (request in -> response out, matched by correlation id) and,
# for Produce, the client's turnaround. What the broker does not account for is the client's
# (and the scheduler's and loopback's) share. docs/performance.md has tables made with it.
#
#   bash compat-tests/bench/wire-breakdown.sh e2e     EndToEndLatency (1 partition, acks=all,
#                                                     1 KiB), BENCH_E2E_RECORDS (20000) messages
#   bash compat-tests/bench/wire-breakdown.sh rate    the fixed-rate franz-go row (gobench produce,
#                                                     8 partitions, BENCH_LATENCY_RATE records/s,
#                                                     BENCH_RATE_RECORDS (200000), 1 KiB)
#
# Each broker first gets an uncaptured warm-up run (BENCH_WARMUP records; default 10000 for e2e,
# 100000 for rate): a JVM broker right after start answers several times slower until its code
# is compiled.
#
# Needs root for tcpdump (installs it if missing). Environment as run.sh: BENCH_ONLY,
# BENCH_SLUICE_PORT, BENCH_KAFKA_PORT, SLUICE_BIN. Reports numbers; never fails on them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=bench
export COMPAT_RESULTS=/dev/null
source "$HERE/../lib/common.sh"
BENCH_INSTANCE=bench-wire
source "$HERE/lib.sh"
MODE="${1:-e2e}"
SIZE=1024
case "$MODE" in
  e2e) RECORDS="${BENCH_E2E_RECORDS:-20000}" WARMUP="${BENCH_WARMUP:-10000}" PARTITIONS=1 ;;
  rate) RECORDS="${BENCH_RATE_RECORDS:-200000}" WARMUP="${BENCH_WARMUP:-100000}" PARTITIONS=8
    RATE="${BENCH_LATENCY_RATE:-20000}" ;;
  *) echo "usage: $0 e2e|rate" >&2; exit 2 ;;
esac
command -v tcpdump >/dev/null || apt_install tcpdump

# client BROKER ADDR N: one run of the mode's client; prints its latency lines.
client() {
  local broker=$1 addr=$2 n=$3
  if [[ $MODE == e2e ]]; then
    "${JAVA_TOOL[@]}" org.apache.kafka.tools.EndToEndLatency --bootstrap-server "$addr" \
      --topic bench-wire-breakdown --num-records "$n" --producer-acks all --record-size "$SIZE" \
      2>/dev/null | grep -E '^(Avg latency|Percentiles)' || true
  else
    "$GOBENCH" produce -brokers "$addr" -topic bench-wire-breakdown -records "$n" -size "$SIZE" \
      -clients 1 -rate "$RATE" -linger 0 2>"$WORK/wire-$broker.gobench.err" || true
  fi
}

bench_setup
trap bench_cleanup EXIT
each_broker start_broker
each_broker create_topic bench-wire-breakdown "$PARTITIONS"
for broker in "${BROKERS[@]}"; do
  addr="$(addr_of "$broker")"
  pcap="$WORK/wire-$broker.pcap"
  if ((WARMUP > 0)); then
    log "[$broker] warm-up: $MODE, $WARMUP records (not captured)"
    client "$broker" "$addr" "$WARMUP" >/dev/null
  fi
  # -B: a 128 MiB capture buffer (the default one drops packets at this rate).
  tcpdump -i lo -B 131072 -w "$pcap" "tcp port ${addr##*:}" >"$WORK/wire-$broker.tcpdump.log" 2>&1 &
  dump=$!
  sleep 1 # let tcpdump attach before the first packet
  log "[$broker] $MODE: $RECORDS records (captured to $pcap)"
  client "$broker" "$addr" "$RECORDS" | sed "s/^/[$broker] /"
  kill -INT "$dump"
  wait "$dump" || true
  log "[$broker] reading the capture"
  python3 "$HERE/wire-latency.py" "$pcap" "${addr##*:}" | sed "s/^/[$broker]   /"
  rm -f "$pcap"
done
