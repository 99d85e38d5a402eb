#!/usr/bin/env bash
# Where EndToEndLatency's time goes: both brokers side by side (as in run.sh), one
# EndToEndLatency run each (1 partition, acks=all, 1 KiB) captured with tcpdump on loopback,
# then the request-in -> response-out times per request kind (e2e-breakdown.py). What the
# broker does not account for is the client's (and the scheduler's and loopback's) share.
# docs/performance.md ("EndToEndLatency") has a table made with it.
#
#   bash compat-tests/bench/e2e-breakdown.sh            20000 messages per broker
#   BENCH_E2E_RECORDS=5000 bash compat-tests/bench/e2e-breakdown.sh
#
# Each broker first gets an uncaptured warm-up run (BENCH_E2E_WARMUP records, default 10000):
# a JVM broker right after start answers several times slower until its code is compiled.
#
# Needs root for tcpdump (installs it if missing). Environment as run.sh: BENCH_ONLY,
# BENCH_SLUICE_PORT, BENCH_KAFKA_PORT, SLUICE_BIN. Reports numbers; never fails on them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=bench
export COMPAT_RESULTS=/dev/null
source "$HERE/../lib/common.sh"
BENCH_INSTANCE=bench-e2e
source "$HERE/lib.sh"
E2E_RECORDS="${BENCH_E2E_RECORDS:-20000}"
E2E_WARMUP="${BENCH_E2E_WARMUP:-10000}"
command -v tcpdump >/dev/null || apt_install tcpdump

bench_setup
trap bench_cleanup EXIT
each_broker start_broker
each_broker create_topic bench-e2e-breakdown 1
for broker in "${BROKERS[@]}"; do
  addr="$(addr_of "$broker")"
  pcap="$WORK/e2e-$broker.pcap"
  if ((E2E_WARMUP > 0)); then
    log "[$broker] warm-up: EndToEndLatency --num-records $E2E_WARMUP (not captured)"
    "${JAVA_TOOL[@]}" org.apache.kafka.tools.EndToEndLatency --bootstrap-server "$addr" \
      --topic bench-e2e-breakdown --num-records "$E2E_WARMUP" --producer-acks all --record-size 1024 \
      >/dev/null 2>&1 || log "[$broker] warm-up exit $?"
  fi
  tcpdump -i lo -s 96 -w "$pcap" "tcp port ${addr##*:}" >"$WORK/e2e-$broker.tcpdump.log" 2>&1 &
  dump=$!
  sleep 1 # let tcpdump attach before the first packet
  log "[$broker] EndToEndLatency --num-records $E2E_RECORDS (captured to $pcap)"
  "${JAVA_TOOL[@]}" org.apache.kafka.tools.EndToEndLatency --bootstrap-server "$addr" \
    --topic bench-e2e-breakdown --num-records "$E2E_RECORDS" --producer-acks all --record-size 1024 \
    2>/dev/null | grep -E '^(Avg latency|Percentiles)' | sed "s/^/[$broker] /"
  kill -INT "$dump"
  wait "$dump" || true
  echo "[$broker] broker time per request, request packet in -> response packet out:"
  python3 "$HERE/e2e-breakdown.py" "$pcap" "${addr##*:}" | sed "s/^/[$broker]   /"
  rm -f "$pcap"
done
